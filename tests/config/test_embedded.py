"""devtools.embedded's port checks, which `make run` uses before it starts a service."""

import socket

from devtools.embedded import port_bindable, port_in_use


def test_a_listening_port_is_in_use_and_not_bindable():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_in_use(port)
        assert not port_bindable(port)
    assert port_bindable(port)


def test_a_port_held_by_a_connections_own_end_is_not_bindable():
    """What stopped `make run` once: an outgoing connection had taken Redis's port as its own
    local port. Nothing listens there, so a connect() finds it free, but a server cannot bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            client.connect(server.getsockname())
            peer, _ = server.accept()
            with peer:
                local_port = client.getsockname()[1]
                assert not port_in_use(local_port)
                assert not port_bindable(local_port)
