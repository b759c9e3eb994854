"""The dentists' review queue: listing (keyset pages), claims and leases."""
