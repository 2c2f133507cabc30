"""Figures for the course and the report: ``plot`` (charts), ``diagrams``
(drawings of the model and the kernels), ``paper`` (the paper's own
figures, always labelled as theirs).
"""
