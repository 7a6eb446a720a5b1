"""The accelerator catalogue: real accelerators with dense throughput, dies and provenance.

``load_catalogue()`` reads the packaged data file (``accelerators.yaml``, one entry per row of
the research catalogue ``chips.csv``); ``Catalogue.resolve`` finds a chip by id or alias.
``load_equipment()`` reads the equipment catalogue (``equipment.yaml``: semiconductor-manufacturing
tools and HBM stacks) that the allied packs select.
"""

from tiergate.catalog.catalogue import Catalogue, load_catalogue
from tiergate.catalog.equipment import EquipmentCatalogue, load_equipment
from tiergate.catalog.model import EQUIPMENT_CATEGORIES, PRECISIONS, Chip, Die, Equipment, PriceRange

__all__ = [
    "EQUIPMENT_CATEGORIES",
    "PRECISIONS",
    "Catalogue",
    "Chip",
    "Die",
    "Equipment",
    "EquipmentCatalogue",
    "PriceRange",
    "load_catalogue",
    "load_equipment",
]
