"""Checkout services, split by concern: pricing, orders, the card flow (checkout), fraud."""
