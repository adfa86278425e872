"""Back-office pages (later issues) and HTTP helpers shared by controllers."""
