"""Run a Python script as if the emulated load balancer answered on port 80 of its own DNS name.

Behind the AWS emulator every load balancer shares the emulator's port (4566), so a client that
dials `http://<load balancer DNS name>` needs port 80 of that name to reach it. This wrapper
listens on 127.0.0.1:80 (the test maps the DNS name to 127.0.0.1), forwards each connection to the
emulator, then runs the script unchanged: the Host header is the load balancer's own name, as it
is on AWS.

    python behind-load-balancer.py <emulator host:port> <script.py>
"""

import runpy
import socket
import sys
import threading


def pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def forward(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        client, _ = listener.accept()
        upstream = socket.create_connection(target)
        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


def main() -> None:
    host, port = sys.argv[1].rsplit(":", 1)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 80))
    listener.listen(64)
    threading.Thread(target=forward, args=(listener, (host, int(port))), daemon=True).start()
    script = sys.argv[2]
    sys.argv = [script]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
