"""``nmt8 reproduce``: what it runs (``run``, ``settings``, ``systems``)
and what it finds (``results``, ``records``, ``batch_records``,
``targets``).
"""
