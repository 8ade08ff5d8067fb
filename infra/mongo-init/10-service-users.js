// compose's `mongo`: run once by the official image's entrypoint (docker-entrypoint-initdb.d), on the first start
// of an empty data volume, as the root user (MONGO_INITDB_ROOT_USERNAME). One user per dsp-mesh service, defined in
// `admin` (the services' DSP_MONGO_AUTH_SOURCE), each with readWrite on its own database <prefix>_<service> and
// nothing else: no other service's database, no user administration. Passwords come from the container's
// environment (compose.yaml: MONGO_PASSWORD_<SERVICE> from .env); none is ever printed.
const prefix = process.env.MONGO_DB_PREFIX || "dsp";
const admin = db.getSiblingDB("admin");
for (const service of ["records", "activation", "access", "notify", "gateway", "console"]) {
  const variable = `MONGO_PASSWORD_${service.toUpperCase()}`;
  const pwd = process.env[variable];
  if (!pwd) {
    throw new Error(`${variable} is not set: the ${service} user cannot be created`);
  }
  const roles = [{ role: "readWrite", db: `${prefix}_${service}` }];
  if (admin.getUser(service)) {
    admin.updateUser(service, { pwd, roles });
  } else {
    admin.createUser({ user: service, pwd, roles, mechanisms: ["SCRAM-SHA-256"] });
  }
  print(`[mongo-init] user ${service}: readWrite on ${prefix}_${service}`);
}
