"""The production HTTP server: ``python -m gatewayproj.server``.

The gateway's own HTTP/1.1 server, so that connection handling is the
gateway's to decide when it faces the internet: no single address, however
patient, can keep it from answering others (idle and stalled connections are
bounded per address and displaced first; every phase of a request has a
deadline from its start; threads are shared fairly between addresses), and a
port already in use is an error. Written for Django's WSGI interface on
uvloop and httptools (the event loop and parser of uvicorn):

- ``master``: the main process: the listening socket, workers, signals (stop, reload);
- ``worker``: a worker process: Django, the event loop, graceful stop;
- ``connection``: one HTTP/1.1 connection: parsing, deadlines, answers;
- ``admission``: which connections a worker keeps under its per-address and total limits;
- ``scheduling``: the threads Django runs in, shared fairly between addresses;
- ``wsgi``: the WSGI environ of a request and the bytes of an answer;
- ``config``: the settings, from the environment.

docs/operations.md describes the settings; bench/README.md compares it with
granian and gunicorn.
"""
