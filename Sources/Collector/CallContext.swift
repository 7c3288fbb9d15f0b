import Aggregates
import CRedlineABI

/// Builds a call's detail record (trace id, span id, host, route) from the request prefix the
/// kernel captured, and sets the call's flags to match. The prefix itself is dropped here: raw
/// payload never reaches a segment.
public enum CallContext {
    /// The detail of `call` parsed from `prefix`, or nil when its protocol has no prefix parser
    /// or the prefix yielded no string (the call then has no detail, schemas/records-v2.md).
    /// Sets `prefix_captured`, the trace source and `truncated` in `call.flags`.
    public static func detail(for call: inout rl_l7_call, prefix: [UInt8]) -> rl_call_detail? {
        let ctx: RequestContext
        switch UInt32(call.l7_proto) {
        case RL_L7_THRIFT.rawValue: ctx = RequestPrefixParser.ttheader(prefix)
        case RL_L7_HTTP1.rawValue: ctx = RequestPrefixParser.http(prefix)
        case RL_L7_REDIS.rawValue: return redisDetail(for: &call, prefix: prefix)
        case RL_L7_DNS.rawValue: return dnsDetail(for: &call, prefix: prefix)
        default: return nil
        }
        var detail = rl_call_detail()
        var filled = false
        var flags = UInt32(call.flags) | RL_CALL_PREFIX_CAPTURED.rawValue
        if let t = ctx.traceID, t.count == 16 {
            withUnsafeMutableBytes(of: &detail.trace_id) { for i in 0..<16 { $0[i] = t[i] } }
            filled = true
            switch ctx.traceSource {
            case .w3c?: flags |= RL_CALL_TRACE_W3C.rawValue
            case .b3?: flags |= RL_CALL_TRACE_B3.rawValue
            case .ttheader?: flags |= RL_CALL_TRACE_TTHEADER.rawValue
            case nil: break
            }
        }
        if let s = ctx.spanID, s.count == 8 {
            withUnsafeMutableBytes(of: &detail.span_id) { for i in 0..<8 { $0[i] = s[i] } }
            filled = true
        }
        var truncated = false
        if let h = ctx.host, !h.isEmpty {
            truncated = CollectorRuntime.copy(h, into: &detail.host) || truncated
            filled = true
        }
        if let r = ctx.route, !r.isEmpty {
            truncated = CollectorRuntime.copy(r, into: &detail.route) || truncated
            filled = true
        }
        if truncated { flags |= RL_CALL_TRUNCATED.rawValue }
        call.flags = UInt8(truncatingIfNeeded: flags)
        return filled ? detail : nil
    }

    /// DNS: the query's question (schemas/records-v2.md), its name (lower-cased, at most 79
    /// bytes: a longer one is cut and the call flagged `truncated`) in `route`, its QTYPE
    /// mnemonic in `host`, so `dns_names` counts per name and type. A question that cannot be
    /// read puts its reason's placeholder in `route` (`{truncated}`: the capture ended inside
    /// it; `{invalid}`; `{oversized}`) and no type: never a guessed name.
    static func dnsDetail(for call: inout rl_l7_call, prefix: [UInt8]) -> rl_call_detail? {
        call.flags |= UInt8(RL_CALL_PREFIX_CAPTURED.rawValue)
        var detail = rl_call_detail()
        switch RequestNames.dnsQuestion(prefix) {
        case .success(let q):
            if CollectorRuntime.copy(q.name, into: &detail.route) { call.flags |= UInt8(RL_CALL_TRUNCATED.rawValue) }
            _ = CollectorRuntime.copy(RequestNames.dnsTypeName(q.type), into: &detail.host)
        case .failure(let reason):
            _ = CollectorRuntime.copy(reason.placeholder, into: &detail.route)
        }
        return detail
    }

    /// Redis: the command a RESP request starts with, upper-cased, in `route`
    /// (schemas/records-v2.md), so `red_route` counts per command. A prefix that is not a RESP
    /// command, or is cut before the command ends, gives no detail: the call is counted under
    /// `{none}`, never under a guessed name.
    static func redisDetail(for call: inout rl_l7_call, prefix: [UInt8]) -> rl_call_detail? {
        call.flags |= UInt8(RL_CALL_PREFIX_CAPTURED.rawValue)
        guard case .success(let command) = RequestNames.redisCommand(prefix) else { return nil }
        var detail = rl_call_detail()
        // At most 32 bytes (`redisCommand` rejects longer): the 80-byte field always holds it.
        _ = CollectorRuntime.copy(command, into: &detail.route)
        return detail
    }
}
