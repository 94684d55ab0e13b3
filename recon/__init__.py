"""recon: payment reconciliation for cashless administrative fees."""

__version__ = "0.1.0"
