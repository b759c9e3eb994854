"""Closed-loop referrals from signed evaluations and urgent screenings."""
