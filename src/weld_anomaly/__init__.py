"""Find cavities in X-ray images of welds.

The package holds all the logic of the workflow; it never imports Snakemake, so every
module can be imported and tested on its own. The Snakemake rules call it through the thin
adapters in ``scripts/``.
"""

__version__ = "0.1.0"
