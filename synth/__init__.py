"""Synthetic partner deliveries and planted truth (``recours synth``).

A synthetic Haute-Garonne (1 471 468 persons by default, in their households and communes)
whose CAF, CPAM, CARSAT, France Travail and CD31 files follow the partners' layouts with all
their quirks, and whose indicators are known exactly, so that the pipeline can be measured.
"""

from synth.generate import SynthSummary, synthesize

__all__ = ["SynthSummary", "synthesize"]
