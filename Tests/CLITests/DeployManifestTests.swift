import Foundation
import KernelProbes
import Testing
import TestSupport
import Yams

/// The deployment files under tools/deploy/ against what the code needs: the Kubernetes
/// examples parse and carry the fields a DaemonSet / CronJob must have, and the collector's
/// capabilities are exactly `Capability.collectorNeeds` in the systemd unit and the DaemonSet.
@Suite("Deployment files: Kubernetes examples and systemd units agree with the collector")
struct DeployManifestTests {
    static let deploy = Prerequisites.packageRoot + "/tools/deploy"

    static func documents(_ file: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: "\(deploy)/k8s/\(file)", encoding: .utf8)
        return try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
    }

    /// The value at a dotted path of nested mappings (`spec.template.spec`).
    static func at(_ doc: Any?, _ path: String) -> Any? {
        path.split(separator: ".").reduce(doc) { node, key in (node as? [String: Any])?[String(key)] }
    }

    static let capNames = Capability.collectorNeeds.map(\.name)

    @Test("the DaemonSet has a selector matching its pod labels, a collector container with exactly the collector's capabilities, host network and the host cgroup tree")
    func daemonSet() throws {
        let docs = try Self.documents("collector-daemonset.yaml")
        let ds = try #require(docs.first { $0["kind"] as? String == "DaemonSet" })
        #expect(ds["apiVersion"] as? String == "apps/v1")
        #expect(Self.at(ds, "metadata.name") is String)
        let selector = try #require(Self.at(ds, "spec.selector.matchLabels") as? [String: String])
        let labels = try #require(Self.at(ds, "spec.template.metadata.labels") as? [String: String])
        #expect(!selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }, "selector must match the pod template's labels")
        let pod = try #require(Self.at(ds, "spec.template.spec") as? [String: Any])
        #expect(pod["hostNetwork"] as? Bool == true)
        let containers = try #require(pod["containers"] as? [[String: Any]])
        let c = try #require(containers.first)
        #expect(c["name"] is String && c["image"] is String)
        let command = try #require(c["command"] as? [String])
        #expect(command.prefix(2) == ["/usr/bin/redline", "collect"])
        let added = try #require(Self.at(c, "securityContext.capabilities.add") as? [String])
        #expect(Set(added.map { "CAP_" + $0 }) == Set(Self.capNames), "DaemonSet capabilities \(added) vs \(Self.capNames)")
        #expect(Self.at(c, "securityContext.capabilities.drop") as? [String] == ["ALL"])
        #expect(Self.at(c, "securityContext.privileged") as? Bool == false)
        let mounts = try #require(c["volumeMounts"] as? [[String: Any]])
        let volumes = try #require(pod["volumes"] as? [[String: Any]])
        let volumeNames = Set(volumes.compactMap { $0["name"] as? String })
        #expect(mounts.allSatisfy { volumeNames.contains($0["name"] as? String ?? "") }, "a volumeMount names no volume")
        #expect(volumes.contains { Self.at($0, "hostPath.path") as? String == "/sys/fs/cgroup" })
        // The ConfigMap's collector.yaml is the collector config the command reads.
        let cm = try #require(docs.first { $0["kind"] as? String == "ConfigMap" })
        let config = try #require(Self.at(cm, "data") as? [String: String])["collector.yaml"]
        let parsed = try #require(try Yams.load(yaml: config ?? "") as? [String: Any])
        #expect(parsed["version"] as? Int == 1 && Self.at(parsed, "segments.root") is String)
    }

    @Test("the CronJob has a schedule, a job template with a restart policy, and runs the hourly pipeline unprivileged")
    func cronJob() throws {
        let cj = try #require(try Self.documents("hourly-cronjob.yaml").first { $0["kind"] as? String == "CronJob" })
        #expect(cj["apiVersion"] as? String == "batch/v1")
        let schedule = try #require(Self.at(cj, "spec.schedule") as? String)
        #expect(schedule.split(separator: " ").count == 5)
        let pod = try #require(Self.at(cj, "spec.jobTemplate.spec.template.spec") as? [String: Any])
        #expect(["OnFailure", "Never"].contains(pod["restartPolicy"] as? String ?? ""))
        let c = try #require((pod["containers"] as? [[String: Any]])?.first)
        let command = try #require(c["command"] as? [String])
        #expect(command.starts(with: ["/usr/bin/redline", "run"]) && command.contains("--if-changed") && command.contains("--last-closed-hour"))
        #expect(Self.at(c, "securityContext.capabilities.drop") as? [String] == ["ALL"])
        #expect(Self.at(c, "securityContext.capabilities.add") == nil)
    }

    @Test("redline-collect.service grants exactly the collector's capabilities; the pipeline units none; ExecReload sends SIGHUP")
    func systemdUnits() throws {
        func directives(_ unit: String) throws -> [String: [String]] {
            let text = try String(contentsOfFile: "\(Self.deploy)/systemd/\(unit)", encoding: .utf8)
                .replacingOccurrences(of: "\\\n", with: " ")
            var out: [String: [String]] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") && line.contains("=") {
                let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
                out[kv[0], default: []].append(kv.count > 1 ? kv[1] : "")
            }
            return out
        }
        let collect = try directives("redline-collect.service")
        for key in ["AmbientCapabilities", "CapabilityBoundingSet"] {
            #expect(Set(collect[key]?.first?.split(separator: " ").map(String.init) ?? []) == Set(Self.capNames), "\(key)")
        }
        #expect(collect["User"] == ["redline"] && collect["ProtectSystem"] == ["strict"] && collect["StateDirectory"] == ["redline"])
        #expect(collect["ExecReload"]?.first?.contains("-HUP $MAINPID") == true)
        for unit in ["redline-hourly.service", "redline-daily.service"] {
            let d = try directives(unit)
            #expect(d["CapabilityBoundingSet"] == [""], "\(unit) must drop every capability")
            #expect(d["User"] == ["redline"])
        }
        #expect(try directives("redline-hourly.service")["ExecStart"]?.first?.contains("--last-closed-hour --if-changed") == true)
        for timer in ["redline-hourly.timer", "redline-daily.timer"] {
            #expect(try directives(timer)["OnCalendar"]?.isEmpty == false)
        }
    }
}
