"""Unit tests of the HTTP API's shared parts and models (terra_connect/http/)."""
