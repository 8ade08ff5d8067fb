// Users (SCRAM-SHA-512) and ACLs of the local broker, through Kafka's own Admin API, in one JVM start.
// Compiled once by infra/kafka.py against the broker's jars. Everything comes on stdin, never on the command line
// (a command line is visible to every local user):
//   config <client property>=<value>     admin client configuration (bootstrap, SASL as the super user)
//   exact <principal>                    ACLs of this principal not listed below are deleted
//   user <name> <password>               create or update the SCRAM-SHA-512 credential
//   acl <TOPIC|GROUP|CLUSTER|TRANSACTIONAL_ID> <LITERAL|PREFIXED> <name> <principal> <OPERATION>
// Prints one summary line; exits 1 with the error's class and message (never a password) on failure.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public final class KafkaAccess {
    public static void main(String[] args) throws Exception {
        Properties config = new Properties();
        Set<String> exact = new HashSet<>();
        List<UserScramCredentialAlteration> users = new ArrayList<>();
        Set<AclBinding> wanted = new HashSet<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            String[] f = line.trim().split(" ");
            switch (f[0]) {
                case "" -> { }
                case "config" -> {
                    int eq = f[1].indexOf('=');
                    config.put(f[1].substring(0, eq), line.trim().substring(7 + eq + 1));
                }
                case "exact" -> exact.add(f[1]);
                case "user" -> users.add(new UserScramCredentialUpsertion(
                        f[1], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), f[2]));
                case "acl" -> wanted.add(new AclBinding(
                        new ResourcePattern(ResourceType.fromString(f[1]), f[3], PatternType.fromString(f[2])),
                        new AccessControlEntry(f[4], "*", AclOperation.fromString(f[5]), AclPermissionType.ALLOW)));
                default -> throw new IllegalArgumentException("unknown line kind: " + f[0]);
            }
        }
        try (Admin admin = Admin.create(config)) {
            if (!users.isEmpty()) {
                admin.alterUserScramCredentials(users).all().get(60, TimeUnit.SECONDS);
            }
            List<AclBindingFilter> stale = new ArrayList<>();
            if (!exact.isEmpty()) {
                for (AclBinding b : admin.describeAcls(AclBindingFilter.ANY).values().get(60, TimeUnit.SECONDS)) {
                    if (exact.contains(b.entry().principal()) && !wanted.contains(b)) {
                        stale.add(b.toFilter());
                    }
                }
                if (!stale.isEmpty()) {
                    admin.deleteAcls(stale).all().get(60, TimeUnit.SECONDS);
                }
            }
            if (!wanted.isEmpty()) {
                admin.createAcls(wanted).all().get(60, TimeUnit.SECONDS);
            }
            System.out.println("users " + users.size() + ", acls " + wanted.size() + ", stale acls deleted "
                    + stale.size());
        } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            System.err.println(cause.getClass().getSimpleName() + ": " + cause.getMessage());
            System.exit(1);
        }
    }
}
