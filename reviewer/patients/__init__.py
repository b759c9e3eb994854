"""Patient-level clinical facts kept across cases (the medical history)."""
