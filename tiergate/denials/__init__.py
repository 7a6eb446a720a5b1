"""Shared denials: licence denials notified by any jurisdiction, kept in the store and consulted by every
decision. An essentially identical transaction (same item class, same end user, same destination) denied
within three years carries a consultation notice, and no general authorisation is offered against it.

``tiergate denials add|list|import`` (``cli``), ``/v1/denials`` (``tiergate.api.denials``), the Denials
page of the dashboard; the format is :func:`tiergate.denials.model.parse_denial`'s.
"""

from tiergate.denials.model import DenialIn, denial_to_dict, parse_denial

__all__ = ["DenialIn", "denial_to_dict", "parse_denial"]
