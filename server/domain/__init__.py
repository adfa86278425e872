"""Business areas, one package each: controllers (HTTP), services (transactions), pure rules."""
