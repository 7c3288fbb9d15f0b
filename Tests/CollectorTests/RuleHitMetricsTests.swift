import Foundation
import KernelProbes
import Logging
import Testing
import TestSupport
@testable import Collector

@Suite struct RuleHitMetricsTests {
    @Test("one series per installed rule, zeros included; hits of ids no longer installed keep their own series")
    func seriesPerRule() throws {
        let rules = try RuleSet(yaml: """
            version: 2
            rules:
              - {id: 1, name: http-get, protocol: http1, role: request, text: "GET /"}
              - {id: 8, name: http-response, protocol: http1, role: response, text: "HTTP/1."}
              - {id: 99, name: custom, protocol: 20, role: request, text: "X"}
            """)
        let text = MetricsTextfile.render(MetricsTextfile.ruleHitSamples(hits: [1: 7, 42: 3], rules: rules))
        #expect(text == """
            # HELP redline_rule_hits_total Payloads each L7 rule matched in the kernel since the programs were loaded.
            # TYPE redline_rule_hits_total counter
            redline_rule_hits_total{rule="http-get",id="1",protocol="http1",role="request"} 7
            redline_rule_hits_total{rule="http-response",id="8",protocol="http1",role="response"} 0
            redline_rule_hits_total{rule="custom",id="99",protocol="20",role="request"} 0
            redline_rule_hits_total{rule="rule-42",id="42",protocol="",role=""} 3

            """)
    }

    /// An Ethernet + IPv4 + TCP frame (198.18.0.1:40000 -> 198.18.0.2:80) carrying `payload`,
    /// for BPF_PROG_TEST_RUN; checksums zero (tc programs do not verify them).
    static func tcpFrame(_ payload: [UInt8]) -> [UInt8] {
        let tcp: [UInt8] = [0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0] + payload
        let total = 20 + tcp.count
        let ip: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), 0, 1, 0, 0, 64, 6, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]
        return [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00] + ip + tcp
    }

    @Test("rootBPF: the collector's metrics file counts each rule's kernel matches", .requiresRootBPF)
    func rootBPFCollectorMetricsCountRuleHits() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("redline-rulehits-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let configPath = dir + "/collector.yaml"
        try """
            version: 1
            rules: \(Prerequisites.packageRoot)/pipelines/rules/default.yaml
            segments: {root: \(dir)/segments}
            metrics_file: \(dir)/redline.prom

            """.write(toFile: configPath, atomically: true, encoding: .utf8)
        let config = try CollectorConfig.load(path: configPath)
        let runtime = try CollectorRuntime(config: config, configPath: configPath,
                                           objectPath: Prerequisites.packageRoot + "/bpf/build/redline.bpf.o", logger: Logger(label: "test"))
        try runtime.apply(config)
        let probe = try runtime.dataPlane.program(.tcProbe)
        let get = Array("GET /orders/7 HTTP/1.1\r\nHost: shop\r\n\r\n".utf8)
        let rtsp = Array("OPTIONS rtsp://198.18.0.2/live RTSP/1.0\r\nCSeq: 1\r\n\r\n".utf8)
        let postgresStartup: [UInt8] = [0, 0, 0, 0x29, 0, 3, 0, 0] + Array("user\0postgres\0database\0postgres\0\0".utf8)
        for _ in 0..<3 { _ = try probe.testRun(packet: Self.tcpFrame(get)) }
        for p in [rtsp, postgresStartup, Array("HTTP/1.1 404 Not Found\r\n\r\n".utf8)] {
            _ = try probe.testRun(packet: Self.tcpFrame(p))
        }
        runtime.writeMetrics()
        let text = try String(contentsOfFile: dir + "/redline.prom", encoding: .utf8)
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(lines.contains(#"redline_rule_hits_total{rule="http-get",id="1",protocol="http1",role="request"} 3"#), "\(text)")
        #expect(lines.contains(#"redline_rule_hits_total{rule="http-response",id="8",protocol="http1",role="response"} 1"#))
        // Neither neighbour was taken for a known protocol: the OPTIONS and Kafka rules stay at zero.
        #expect(lines.contains(#"redline_rule_hits_total{rule="http-options",id="7",protocol="http1",role="request"} 0"#))
        #expect(lines.contains(#"redline_rule_hits_total{rule="kafka-request",id="60",protocol="kafka",role="request"} 0"#))
        #expect(text.components(separatedBy: "\nredline_rule_hits_total{").count - 1 == runtime.installedRules?.rules.count)
    }
}
