"""The accelerator catalogue: real accelerators with dense throughput, dies and provenance.

``load_catalogue()`` reads the packaged data file (``accelerators.yaml``, one entry per row of
the research catalogue ``chips.csv``); ``Catalogue.resolve`` finds a chip by id or alias.
"""

from tiergate.catalog.catalogue import Catalogue, load_catalogue
from tiergate.catalog.model import PRECISIONS, Chip, Die, PriceRange

__all__ = ["PRECISIONS", "Catalogue", "Chip", "Die", "PriceRange", "load_catalogue"]
