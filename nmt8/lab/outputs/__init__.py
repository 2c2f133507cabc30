"""What the outputs say (Sections 4-5): ``quality`` (BLEU and chrF with
sacrebleu, Table 6), ``diff`` and ``flips`` (where fp32 and int8 outputs
differ, Tables 8-9), ``significance`` (paired bootstrap), ``human``
(a blind evaluation as in Table 7).
"""
