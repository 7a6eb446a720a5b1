"""The model-weight vault: a registry of model checkpoints classified under the rule packs (ECCN 4E091), transfer
requests that no quorum can push to Tier 3, k-of-n approvals with a TTL, release against the shards' Merkle
root, and an append-only RFC 6962 log with Ed25519-signed checkpoints that an auditor verifies offline.

The vault keeps a registry and an approval ledger, not the weights. See docs/vault.md.
"""

from tiergate.vault.model import STATUSES, Approval, ApproverSet, Artefact, DataCentre, Request, Shard
from tiergate.vault.policy import POLICY_REGIME, VAULT_RULES, count_approvals, status_of
from tiergate.vault.proofs import ProofError, check_bundle, check_consistency, check_file, check_inclusion
from tiergate.vault.store import LogTampered, NotFound, Outcome, Vault, VaultError, open_vault

__all__ = [
    "POLICY_REGIME",
    "STATUSES",
    "VAULT_RULES",
    "Approval",
    "ApproverSet",
    "Artefact",
    "DataCentre",
    "LogTampered",
    "NotFound",
    "Outcome",
    "ProofError",
    "Request",
    "Shard",
    "Vault",
    "VaultError",
    "check_bundle",
    "check_consistency",
    "check_file",
    "check_inclusion",
    "count_approvals",
    "open_vault",
    "status_of",
]
