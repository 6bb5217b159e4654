"""The `greenlight` command (also the kubectl plugin `kubectl-greenlight`).

- `main`: the click group, its exit codes, and the console script's entry point.
- `viewing`: `status`, `history`, `get`. `wait`: `wait`, and following a Release for `status -w`.
- `actions`: `promote`, `abort`, `rollback`, on the shared policy of `greenlight.user_actions`.
- `options`: the options every command shares and the connection they lead to.
- `output`, `status_view`, `live`: what is printed, as views, tables, lines or data.
- `exits`, `reading`: exit codes and failures; reading status through the models.

The cluster is reached only through `greenlight.kube.releases`.
"""
