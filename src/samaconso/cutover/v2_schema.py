"""The v2 database as V2.md §1 describes it: ORM-made tables, camelCase user columns, a table named
``user``, no unique constraint, no cascade, integer keys. Used to build v2 databases for the tests
and the bench (production reads the real one, never writes it)."""

from __future__ import annotations

V2_DDL = """
CREATE TABLE role (id integer PRIMARY KEY, label varchar(50));
CREATE TABLE agence (id serial PRIMARY KEY, nom varchar(120), nom_corrige varchar(120));
CREATE TABLE "user" (
    id serial PRIMARY KEY,
    "firstName" varchar(100), "lastName" varchar(100), "phoneNumber" varchar(40),
    "codePin" varchar(100), email varchar(200), login varchar(100), password varchar(100),
    is_activate boolean, ldap boolean, role integer REFERENCES role(id), id_agence integer,
    created_at timestamptz, updated_at timestamptz
);
CREATE TABLE type_compteur (id integer PRIMARY KEY, label varchar(50));
CREATE TABLE compteur (id serial PRIMARY KEY, numero varchar(40), type_compteur integer);
CREATE TABLE etat_compteur (id integer PRIMARY KEY, label varchar(50));
CREATE TABLE user_compteur (
    id serial PRIMARY KEY, compteur_id integer, type_compteur integer, user_id integer,
    est_proprietaire boolean, est_active boolean, autorise_par integer, active_par integer,
    etat_id integer, id_client varchar(40), num_compte_contrat varchar(40), numero_compteur varchar(40),
    id_agence integer, nom_agence varchar(120), nom_client varchar(200), poc varchar(40),
    tarif varchar(20), adresse varchar(255), "default" boolean, created_at timestamptz
);
CREATE TABLE user_session (
    id serial PRIMARY KEY, user_id integer, device_model varchar(120), fcm_token varchar(4096),
    refresh_token_hash varchar(64), refresh_token_expires_at timestamptz, is_active boolean,
    last_login timestamptz
);
CREATE TABLE type_notification (id integer PRIMARY KEY, label varchar(80));
CREATE TABLE notification (
    id serial PRIMARY KEY, type_notification_id integer, event_id integer, by_user_id integer,
    for_user_id integer, title varchar(200), body text, is_read boolean, created_at timestamptz
);
CREATE TABLE type_demande (id serial PRIMARY KEY, label varchar(120));
CREATE TABLE demande (
    id serial PRIMARY KEY, fait_par integer, traite_par integer, user_compteur_id integer,
    type_demande integer, commentaire text, fichier varchar(500), created_at timestamptz
);
CREATE TABLE seuil_tarif (
    id serial PRIMARY KEY, code_tarif varchar(20), id_seuil integer, kwh_min numeric, kwh_max numeric,
    color_hex varchar(9)
);
"""

V2_REFERENCE = """
INSERT INTO role VALUES (1, 'client'), (2, 'administrateur'), (3, 'agent');
INSERT INTO type_compteur VALUES (1, 'Woyofal'), (2, 'Postpaye');
INSERT INTO etat_compteur VALUES (13, 'Demande traitée'), (14, 'Demande en cours');
INSERT INTO type_notification VALUES (1, 'Demande d''accès compteur'), (3, 'Accès compteur validé');
INSERT INTO type_demande (id, label) VALUES
    (1, 'Réclamation facture'), (2, 'Coupure'), (3, 'Changement de compteur'), (4, 'Autre');
SELECT setval('type_demande_id_seq', 4);
"""

V2_TABLES = (
    "role",
    "agence",
    "user",
    "type_compteur",
    "compteur",
    "etat_compteur",
    "user_compteur",
    "user_session",
    "type_notification",
    "notification",
    "type_demande",
    "demande",
    "seuil_tarif",
)
