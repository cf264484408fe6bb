#!/bin/bash
# Dev overlay: creates Enlace's two database accounts, as scripts/lib/mariadb.sh
# does on a machine (docs/audit.md, "Least privilege"). Sourced once by the
# MariaDB image's entrypoint from /docker-entrypoint-initdb.d while the volume
# is empty; the passwords come from the Secrets enlace-db-migrate and enlace-db
# (mariadb.yaml), letters and digits only.
#   enlace_migrate@%  ALL PRIVILEGES ON enlace.* WITH GRANT OPTION (the Job)
#   enlace_server@%   nothing: `enlace-server --migrate` grants it what it needs
mariadb --protocol=socket -uroot -p"${MARIADB_ROOT_PASSWORD}" <<SQL
CREATE USER IF NOT EXISTS 'enlace_migrate'@'%' IDENTIFIED BY '${ENLACE_MIGRATE_PASSWORD}';
GRANT ALL PRIVILEGES ON \`enlace\`.* TO 'enlace_migrate'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'enlace_server'@'%' IDENTIFIED BY '${ENLACE_SERVER_PASSWORD}';
SQL
