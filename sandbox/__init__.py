"""Stand-ins for the platforms (Graph API, LinkedIn API, Conversions API), a CRM endpoint and an SMTP
server, speaking the real wire shapes (see README, "Sandbox"). For development, demos and tests."""
