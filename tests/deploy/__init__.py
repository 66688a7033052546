"""Static checks of deploy/, docker-compose.yml and config/compose.yaml: fast, no network."""
