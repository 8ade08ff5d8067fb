"""activation: persons from the national registry, activation codes, account activation and login."""
