"""The routes the installed v2 app calls (V2.md §3, without the ``/api/v1`` prefix), as (method, path).

``GET /health`` is not here: v3 serves it (the F5 monitor, ``"status": "running"``), and the old app
reading it sees the same field it always saw."""

from __future__ import annotations

V2_HTTP_ROUTES: tuple[tuple[str, str], ...] = (
    # auth and account
    ("POST", "/auth/token"),
    ("POST", "/auth/token-json"),
    ("POST", "/auth/token-json-v2"),
    ("POST", "/auth/ldap-json"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("GET", "/user/connected/me"),
    ("GET", "/user/phonenumber/{phone}"),
    ("GET", "/user/phonenumber/{phone}/exist"),
    ("POST", "/user/"),
    ("PUT", "/user/{user_id}"),
    ("PUT", "/user/codepin/{user_id}"),
    ("POST", "/user-sessions/register-token"),
    ("POST", "/user-sessions/logout"),
    # meters (two paths are literally glued, no slash)
    ("POST", "/user_compteur/ajoutercompteur"),
    ("GET", "/user_compteur/usercompteur/{link_id}"),
    ("GET", "/user_compteur/usercompteuractive/{link_id}"),
    ("GET", "/user_compteur/proprietaireactive/{link_id}"),
    ("PUT", "/user_compteuractiverCompteur/{link_id}"),
    ("GET", "/user_compteurusercompteurtransactionsmens/{link_id}"),
    ("GET", "/user_compteurcompteurtransactionsmens/{link_id}"),
    # consumption
    ("GET", "/sic/getcustomerbymeter/{meter}"),
    ("POST", "/sic/gettop10transactions/"),
    ("POST", "/sic/gettransactionsbyperiod/"),
    ("POST", "/sic/gettransctionsmonthmeterpoc/"),
    ("GET", "/postpaid/gettop6bills/{contract}"),
    ("POST", "/postpaid/getbillsbyperiod/"),
    ("POST", "/postpaid/facturesanneeencours"),
    ("GET", "/postpaid/sixdernieresfactures/{contract}"),
    # other
    ("GET", "/notifications/user/{user_id}"),
    ("PUT", "/notifications/{notification_id}/read"),
    ("POST", "/demandes/"),
    ("GET", "/demandes/user/{user_id}"),
    ("POST", "/upload/upload-file"),
    ("GET", "/abonnement/avis/{number}"),
    ("POST", "/simulateur/trial-credit-vend-request"),
    ("GET", "/seuils_tarif/"),
    ("GET", "/agence/"),
    ("GET", "/type_demande/"),
    ("GET", "/"),
)

V2_WEBSOCKET_ROUTE = "/ws/notifications/{user_id}"
