"""Unit tests of the mobile SDK's binding (terra_connect/sdk/)."""
