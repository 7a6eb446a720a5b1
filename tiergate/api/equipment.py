"""``/v1/equipment``: the equipment catalogue (SME tools and HBM stacks), as ``tiergate equipment``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from tiergate import interchange
from tiergate.api.auth import context, viewer
from tiergate.api.errors import ApiError, responses
from tiergate.api.schemas import ok
from tiergate.errors import UnknownEquipmentError

router = APIRouter(prefix="/v1/equipment", tags=["equipment"], dependencies=[Depends(viewer)])


@router.get(
    "",
    summary="The equipment catalogue",
    responses={**ok({"type": "object"}, "Every tool (`equipment`) and HBM stack (`hbm_stacks`)."), **responses()},
)
def list_equipment(request: Request) -> dict[str, Any]:
    catalogue = context(request).book.equipment
    return {
        "equipment": [interchange.equipment_to_dict(tool) for tool in catalogue],
        "hbm_stacks": [
            {**interchange.chip_to_dict(s), "package_area_mm2": s.package_area_mm2} for s in catalogue.hbm_stacks
        ],
    }


@router.get(
    "/{tool}",
    summary="One tool of the equipment catalogue",
    responses={**ok({"type": "object"}, "The tool."), **responses(404)},
)
def show_equipment(
    request: Request,
    tool: Annotated[str, Path(min_length=1, max_length=200, description="Catalogue id or alias.")],
) -> dict[str, Any]:
    try:
        found = context(request).book.equipment.resolve(tool, where="tool")
    except UnknownEquipmentError as error:
        raise ApiError(404, error.message, where="path: tool", hint=error.hint) from None
    return interchange.equipment_to_dict(found)
