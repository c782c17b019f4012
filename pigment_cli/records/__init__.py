"""The records the clinic keeps: subjects, items, the consent ledger, disclosures, holds, the
suppression list, and the one erasure path; shared validators and id generation."""
