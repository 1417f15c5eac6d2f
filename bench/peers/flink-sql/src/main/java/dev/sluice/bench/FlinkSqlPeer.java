package dev.sluice.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.StatementSet;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;

/**
 * The Flink side of bench/nexmark-flink.ts: runs one Flink SQL script in a local MiniCluster (in
 * this JVM) in STREAMING runtime mode at a given parallelism, and returns when the job has read
 * its bounded input to the end and every sink has finished.
 *
 * <pre>
 *   java -cp target/flink-sql-peer.jar:target/lib/* dev.sluice.bench.FlinkSqlPeer script.sql [parallelism]
 * </pre>
 *
 * The script holds statements ended by a semicolon at the end of a line: CREATE TABLE / VIEW and
 * SET run as they come; every INSERT INTO joins one statement set, run as one job at the end (as
 * EXECUTE STATEMENT SET would). The last line printed is
 * {@code RESULT {"startupMs":…,"jobMs":…,"startupCpuMs":…,"jobCpuMs":…}}: wall and CPU time from
 * JVM start to the job's submission (class loading, parsing, planning), and of the job itself
 * (MiniCluster start, code generation, the run, shut-down).
 */
public final class FlinkSqlPeer {
  private FlinkSqlPeer() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1 || args.length > 2) {
      System.err.println("usage: FlinkSqlPeer <script.sql> [parallelism]");
      System.exit(2);
    }
    int parallelism = args.length == 2 ? Integer.parseInt(args[1]) : 1;
    List<String> statements = splitStatements(Files.readString(Path.of(args[0]), StandardCharsets.UTF_8));

    Configuration conf = new Configuration();
    conf.setString("execution.runtime-mode", "STREAMING");
    conf.setString("parallelism.default", Integer.toString(parallelism));
    conf.setString("taskmanager.numberOfTaskSlots", Integer.toString(parallelism));
    conf.setString("table.local-time-zone", "UTC");
    // No checkpoints: the Sluice side of the benchmark runs without them too.
    TableEnvironment env =
        TableEnvironment.create(EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());

    StatementSet inserts = env.createStatementSet();
    int insertCount = 0;
    for (String statement : statements) {
      if (statement.regionMatches(true, 0, "INSERT", 0, 6)) {
        inserts.addInsertSql(statement);
        insertCount++;
      } else {
        env.executeSql(statement);
      }
    }
    if (insertCount == 0) throw new IllegalArgumentException(args[0] + ": no INSERT INTO statement");

    long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
    long submitted = System.currentTimeMillis();
    long cpuAtSubmit = processCpuMs();
    TableResult result = inserts.execute();
    result.await();
    long done = System.currentTimeMillis();
    System.out.println(
        "RESULT {\"startupMs\":" + (submitted - jvmStart) + ",\"jobMs\":" + (done - submitted)
            + ",\"startupCpuMs\":" + cpuAtSubmit + ",\"jobCpuMs\":" + (processCpuMs() - cpuAtSubmit) + "}");
    // The MiniCluster's threads are not all daemons: leave without waiting for them.
    System.exit(0);
  }

  /** CPU time (user + system, all threads) this JVM has used so far, in milliseconds. */
  private static long processCpuMs() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
            .getProcessCpuTime()
        / 1_000_000;
  }

  /**
   * The statements of a script: text up to each semicolon that ends a line (trailing spaces
   * allowed), with {@code --} comment lines dropped. Enough for the benchmark's scripts, which
   * have no semicolon at a line end inside a string.
   */
  static List<String> splitStatements(String script) throws IOException {
    List<String> out = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    for (String line : script.split("\n", -1)) {
      String trimmed = line.strip();
      if (trimmed.startsWith("--")) continue;
      if (trimmed.endsWith(";")) {
        current.append(trimmed, 0, trimmed.length() - 1);
        String statement = current.toString().strip();
        if (!statement.isEmpty()) out.add(statement);
        current.setLength(0);
      } else {
        current.append(line).append('\n');
      }
    }
    if (!current.toString().strip().isEmpty()) out.add(current.toString().strip());
    return out;
  }
}
