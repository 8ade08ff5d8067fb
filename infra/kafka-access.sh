#!/bin/sh
# Generated from infra/kafka_acls.py by `python -m infra.kafka_acls > infra/kafka-access.sh`:
# do not edit. Run by compose's one-shot `kafka-access` job as the super user admin (SASL PLAIN).
set -eu
B=kafka:9092
C=/tmp/admin.properties
umask 077
printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="%s";\n' "$ADMIN_PASSWORD" > "$C"
bin=/opt/kafka/bin
"$bin/kafka-configs.sh" --bootstrap-server "$B" --command-config "$C" --alter --entity-type users --entity-name records --add-config "SCRAM-SHA-512=[iterations=8192,password=$PASSWORD_RECORDS]" > /dev/null
"$bin/kafka-configs.sh" --bootstrap-server "$B" --command-config "$C" --alter --entity-type users --entity-name activation --add-config "SCRAM-SHA-512=[iterations=8192,password=$PASSWORD_ACTIVATION]" > /dev/null
"$bin/kafka-configs.sh" --bootstrap-server "$B" --command-config "$C" --alter --entity-type users --entity-name access --add-config "SCRAM-SHA-512=[iterations=8192,password=$PASSWORD_ACCESS]" > /dev/null
"$bin/kafka-configs.sh" --bootstrap-server "$B" --command-config "$C" --alter --entity-type users --entity-name notify --add-config "SCRAM-SHA-512=[iterations=8192,password=$PASSWORD_NOTIFY]" > /dev/null
"$bin/kafka-configs.sh" --bootstrap-server "$B" --command-config "$C" --alter --entity-type users --entity-name gateway --add-config "SCRAM-SHA-512=[iterations=8192,password=$PASSWORD_GATEWAY]" > /dev/null
"$bin/kafka-configs.sh" --bootstrap-server "$B" --command-config "$C" --alter --entity-type users --entity-name console --add-config "SCRAM-SHA-512=[iterations=8192,password=$PASSWORD_CONSOLE]" > /dev/null
"$bin/kafka-configs.sh" --bootstrap-server "$B" --command-config "$C" --alter --entity-type users --entity-name laboratory --add-config "SCRAM-SHA-512=[iterations=8192,password=$PASSWORD_LABORATORY]" > /dev/null
"$bin/kafka-configs.sh" --bootstrap-server "$B" --command-config "$C" --alter --entity-type users --entity-name registry --add-config "SCRAM-SHA-512=[iterations=8192,password=$PASSWORD_REGISTRY]" > /dev/null
"$bin/kafka-configs.sh" --bootstrap-server "$B" --command-config "$C" --alter --entity-type users --entity-name directory --add-config "SCRAM-SHA-512=[iterations=8192,password=$PASSWORD_DIRECTORY]" > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:access --operation Read --group access > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:access --operation Read --topic access.changes.v1 --topic access.commands.v1 --topic activation.accounts.v1 --topic directory.professionals.v1 --topic records.document-visibility.v1 --topic registry.persons.v1 > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:access --operation Write --topic access.changes.v1 --topic access.changes.v1.dlq --topic access.commands.v1 --topic access.commands.v1.dlq --topic access.events.v1 --topic access.grant-expired.v1 --topic activation.accounts.v1.dlq --topic directory.professionals.v1.dlq --topic notify.requests.v1 --topic records.document-visibility.v1.dlq --topic registry.persons.v1.dlq > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:activation --operation Read --group activation > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:activation --operation Read --topic activation.commands.v1 --topic registry.persons.v1 > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:activation --operation Write --topic activation.accounts.v1 --topic activation.commands.v1.dlq --topic activation.events.v1 --topic notify.requests.v1 --topic registry.persons.v1.dlq > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:console --operation Describe --group records --group activation --group access --group notify > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:console --operation Read --topic access.changes.v1.dlq --topic access.commands.v1.dlq --topic access.events.v1.dlq --topic access.grant-expired.v1.dlq --topic activation.accounts.v1.dlq --topic activation.commands.v1.dlq --topic activation.events.v1.dlq --topic directory.professionals.v1.dlq --topic lab.results.fhir.v1.dlq --topic lab.results.v1.dlq --topic notify.events.v1.dlq --topic notify.requests.v1.dlq --topic records.commands.v1.dlq --topic records.document-added.v1.dlq --topic records.document-visibility.v1.dlq --topic registry.persons.v1.dlq > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:console --operation Write --topic access.changes.v1 --topic access.commands.v1 --topic access.events.v1 --topic access.grant-expired.v1 --topic activation.accounts.v1 --topic activation.commands.v1 --topic activation.events.v1 --topic directory.professionals.v1 --topic lab.results.fhir.v1 --topic lab.results.v1 --topic notify.events.v1 --topic notify.requests.v1 --topic records.commands.v1 --topic records.document-added.v1 --topic records.document-visibility.v1 --topic registry.persons.v1 > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:directory --operation Write --topic directory.professionals.v1 > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:gateway --operation Read --topic access.events.v1 > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:gateway --operation Write --topic access.commands.v1 --topic records.commands.v1 > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:laboratory --operation Write --topic lab.results.fhir.v1 --topic lab.results.v1 > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:notify --operation Read --group notify > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:notify --operation Read --topic activation.accounts.v1 --topic notify.requests.v1 --topic records.document-added.v1 --topic registry.persons.v1 > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:notify --operation Write --topic activation.accounts.v1.dlq --topic notify.events.v1 --topic notify.requests.v1.dlq --topic records.document-added.v1.dlq --topic registry.persons.v1.dlq > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:records --operation Read --group records > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:records --operation Read --topic lab.results.fhir.v1 --topic lab.results.v1 --topic records.commands.v1 --topic registry.persons.v1 > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:records --operation Write --topic lab.results.fhir.v1.dlq --topic lab.results.v1 --topic lab.results.v1.dlq --topic records.commands.v1.dlq --topic records.document-added.v1 --topic records.document-visibility.v1 --topic registry.persons.v1.dlq > /dev/null
"$bin/kafka-acls.sh" --bootstrap-server "$B" --command-config "$C" --add --allow-principal User:registry --operation Write --topic registry.persons.v1 > /dev/null
echo "kafka-access: users and ACLs of infra/kafka_acls.py in place"
