"""The loopback address pools of pods and Services."""

from __future__ import annotations

import re
import socket

import pytest

from greenlight_sandbox.addresses import POD_NETWORK, AddressesExhausted, AddressPool


def test_pod_addresses_skip_the_first_slash_24_and_are_unique() -> None:
    pool = AddressPool(POD_NETWORK)
    addresses = [pool.allocate() for _ in range(300)]
    assert len(set(addresses)) == 300
    assert not any(address.startswith("127.0.0.") for address in addresses)
    assert all(address in pool for address in addresses)


def test_a_released_address_is_reused_last() -> None:
    pool = AddressPool("127.0.1.0/29")
    first = pool.allocate()
    pool.release(first)
    others = [pool.allocate() for _ in range(6)]  # a /29 holds six host addresses
    assert first not in others[:-1]
    assert first == others[-1]
    with pytest.raises(AddressesExhausted, match=re.escape("127.0.1.0/29")):
        pool.allocate()


def test_claim_takes_an_address_out_of_the_pool() -> None:
    pool = AddressPool("127.0.2.0/29")
    pool.claim("127.0.2.1")
    assert "127.0.2.1" not in [pool.allocate() for _ in range(5)]
    with pytest.raises(ValueError, match="outside"):
        pool.claim("127.1.0.1")


def test_an_allocated_address_can_be_listened_on() -> None:
    address = AddressPool(POD_NETWORK).allocate()
    with socket.socket() as listener:
        listener.bind((address, 0))
        assert listener.getsockname()[0] == address
