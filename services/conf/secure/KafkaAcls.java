// Adds Kafka ACLs through the Admin API of kafka-clients (which the broker's jars include; the
// kafka-tools jar with kafka-acls.sh's AclCommand is not fetched). Run by services/secure.ts as a
// single-file source program:  java -cp '<kafka jars>/*' KafkaAcls.java <client.properties> <acls.tsv>
// acls.tsv: one ALLOW ACL per line: principal, resource type, name, literal|prefixed, OPERATION.
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class KafkaAcls {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    try (var in = Files.newInputStream(Path.of(args[0]))) {
      props.load(in);
    }
    List<AclBinding> bindings = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of(args[1]))) {
      if (line.isBlank()) continue;
      String[] f = line.split("\t");
      ResourceType type = ResourceType.valueOf(f[1]);
      PatternType pattern = PatternType.valueOf(f[3]);
      AclOperation operation = AclOperation.valueOf(f[4]);
      bindings.add(
          new AclBinding(
              new ResourcePattern(type, f[2], pattern),
              new AccessControlEntry(f[0], "*", operation, AclPermissionType.ALLOW)));
    }
    try (Admin admin = Admin.create(props)) {
      admin.createAcls(bindings).all().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      System.err.println("could not add ACLs: " + cause.getMessage());
      System.exit(1);
    }
    System.out.println("added " + bindings.size() + " ACLs");
  }
}
