"""The legacy SQL Server tables the product reads, described once as SQLAlchemy Core tables.

Names and columns are the real ones (``N° COMPTEUR`` is a column name with a space and a degree
sign; SQL Server shows it as ``[N° COMPTEUR]``). Each table carries a *logical* schema — ``sic``,
``histh2mc`` or ``bi_ods`` — that ``schema_translate_map`` maps at execution time:

* production (SQL Server): ``sic`` → ``SIC.dbo``, ``histh2mc`` → ``HISTH2MC.dbo``, ``bi_ods`` → ``BI_ODS.dbo``;
* simulated source (PostgreSQL): the schemas ``sic``, ``histh2mc`` and ``bi_ods`` themselves.

The column types are the portable subset both engines understand; they are used to create the
simulated source and to type the results, never to alter the production databases.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, Integer, MetaData, Numeric, String, Table

SIC = "sic"
HISTH2MC = "histh2mc"
BI_ODS = "bi_ods"
LOGICAL_SCHEMAS = (SIC, HISTH2MC, BI_ODS)

# Where the logical schemas live on SQL Server (database.owner).
MSSQL_SCHEMA_MAP: dict[str | None, str | None] = {
    SIC: "SIC.dbo",
    HISTH2MC: "HISTH2MC.dbo",
    BI_ODS: "BI_ODS.dbo",
}
# In the simulated source each logical schema is a PostgreSQL schema of the same name.
SIMULATED_SCHEMA_MAP: dict[str | None, str | None] = {s: s for s in LOGICAL_SCHEMAS}

legacy_metadata = MetaData()

Money = Numeric(18, 2)
Energy = Numeric(18, 2)

# --- SIC --------------------------------------------------------------------------------------

# Woyofal vending transactions: one row per purchase (the 1–3 tokens of a purchase share TOKEN,
# separated by spaces).
senelecbill = Table(
    "HEXING_SENELECBILL_ALHDL2",
    legacy_metadata,
    Column("NUMERO_COMMANDE", String(32)),
    Column("NUMERO_COMPTEUR", String(20)),
    Column("POLICE", String(32)),
    Column("NOM_AGENCE_ENCAISSEMENT", String(120)),
    Column("TARIF_USAGE", String(20)),
    Column("DATE_TRANSACTION", DateTime),
    Column("MONTANT_HT", Money),
    Column("MONTANT_TVA", Money),
    Column("MONTANT_TCO", Money),
    Column("MONTANT_TTC", Money),
    Column("ENERGIE_VENDUE", Energy),
    Column("SOLDE_DETTE", Money),
    Column("DETTES", Money),
    Column("NOM_OPERATEUR", String(60)),
    Column("TOKEN", String(80)),
    Column("MONTANT_RECU", Money),
    Column("ARRONDI", Money),
    Column("ENERGIE1", Energy),
    Column("PRIX1", Money),
    Column("MONTANT1", Money),
    Column("ENERGIE2", Energy),
    Column("PRIX2", Money),
    Column("MONTANT2", Money),
    Column("ENERGIE3", Energy),
    Column("PRIX3", Money),
    Column("MONTANT3", Money),
    schema=SIC,
)

# Prepaid customers' administrative data. Only TELEPHONE and MT_COMM_ADDR are known to be queried;
# the other columns are what the simulated source carries (the API returns every column as-is).
infos_administratives = Table(
    "HEXING_INFOS_ADMINISTRATIVES",
    legacy_metadata,
    Column("MT_COMM_ADDR", String(20)),
    Column("TELEPHONE", String(32)),
    Column("POLICE", String(32)),
    Column("NOM_CLIENT", String(160)),
    Column("ADRESSE", String(255)),
    Column("AGENCE", String(120)),
    Column("TARIF", String(20)),
    schema=SIC,
)

infos_administratives_new = Table(
    "HEXING_INFOS_ADMINISTRATIVES_NEW",
    legacy_metadata,
    Column("N° COMPTEUR", String(20)),
    Column("POC", String(32)),
    Column("TEL", String(32)),
    Column("N° CLIENT", String(20)),
    Column("ADRESSE", String(255)),
    Column("USAGE", String(20)),
    Column("CLIENT", String(160)),
    Column("AGENCE", String(120)),
    schema=SIC,
)

compteurs_postpaid = Table(
    "compteurs_postpaid",
    legacy_metadata,
    Column("TELEPHONE", String(32)),
    Column("COMPTE CONTRAT", String(20)),
    Column("N PARTENAIRE", String(20)),
    Column("ADRESSE", String(255)),
    Column("TARIF", String(20)),
    Column("CLIENT", String(160)),
    Column("AGENCE", String(120)),
    schema=SIC,
)

compteurs_app_mobile = Table(
    "compteurs_app_mobile",
    legacy_metadata,
    Column("numero", String(20)),
    Column("type_compteur", String(20)),
    schema=SIC,
)

# --- HISTH2MC -----------------------------------------------------------------------------------

historique = Table(
    "Historique",
    legacy_metadata,
    Column("IDHistorique", BigInteger),
    Column("numFact", String(20)),
    Column("numCC", String(20)),
    Column("numPartenaire", String(20)),
    Column("dateEnvoi", DateTime),
    Column("ADD_LIV", String(255)),
    Column("ADD_PRES", String(255)),
    Column("AI_TH1", Numeric(18, 2)),
    Column("AGENCE", String(120)),
    Column("BORDEREAU", String(20)),
    Column("BT_MONT_HT", Money),
    Column("BT_MONT_TTC", Money),
    Column("BT_MONT_TCO", Money),
    Column("BT_TOTALFACTUR", Money),
    Column("BT_CONSTOT", Energy),
    Column("MONT_TCO", Money),
    Column("MONT_TTC", Money),
    Column("MONT_TVA", Money),
    Column("myTypeFact", String(10)),
    Column("NBJRS_", Integer),
    Column("NOCPTEUR", String(20)),
    Column("NOMPRES", String(160)),
    Column("PMAX", Numeric(8, 2)),
    Column("TARIF", String(20)),
    Column("TOTALFACT", Money),
    Column("TYPEFACT", String(10)),
    Column("moisFacturation", Integer),
    Column("anneeFacturation", Integer),
    Column("typeClientele", String(20)),
    Column("DATFACT", Date),
    Column("DATEECH", Date),
    Column("BT_CONSOM1", Energy),
    Column("BT_CONSOM2", Energy),
    Column("BT_CONSOM3", Energy),
    schema=HISTH2MC,
)

# --- BI_ODS (SAP IS-U replicas) ----------------------------------------------------------------

but000 = Table(
    "BUT000",
    legacy_metadata,
    Column("PARTNER", String(10)),
    Column("NAME_LAST", String(40)),
    Column("NAME_FIRST", String(40)),
    Column("ADDRCOMM", String(10)),
    schema=BI_ODS,
)

adr2 = Table(
    "ADR2",
    legacy_metadata,
    Column("ADDRNUMBER", String(10)),
    Column("TELNR_CALL", String(30)),
    schema=BI_ODS,
)

adr6 = Table(
    "ADR6",
    legacy_metadata,
    Column("ADDRNUMBER", String(10)),
    Column("SMTP_ADDR", String(241)),
    schema=BI_ODS,
)

fkkvkp = Table(
    "FKKVKP",
    legacy_metadata,
    Column("VKONT", String(12)),
    Column("GPART", String(10)),
    schema=BI_ODS,
)

avis_etapes = Table(
    "AVIS_ETAPES_HANA",
    legacy_metadata,
    Column("NUM_AVIS", String(20)),
    Column("CODE_ETAPE", String(10)),
    Column("NUM_PARTENAIRE", String(20)),
    Column("DESC_ETAPE", String(120)),
    Column("DATE_TERM", Date),
    Column("HEURE_TERM", String(8)),
    Column("PRENOM", String(60)),
    Column("NOM", String(60)),
    Column("TELEPHONE", String(30)),
    Column("STATUT_AVIS", String(40)),
    Column("DT_DERNIERE_MAJ", DateTime),
    schema=BI_ODS,
)

# Which logical database each table lives in (one connection pool and circuit breaker each).
TABLE_DATABASE: dict[str, str] = {t.fullname: t.schema or SIC for t in legacy_metadata.sorted_tables}
