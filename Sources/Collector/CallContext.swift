import CRedlineABI

/// Fills a call record's collector-side fields (trace id, span id, host,
/// route, flags) from the request prefix the kernel captured. The prefix
/// itself is dropped here: raw payload never reaches a segment.
public enum CallContext {
    public static func fill(_ call: inout rl_l7_call, prefix: [UInt8]) {
        let ctx: RequestContext
        switch UInt32(call.l7_proto) {
        case RL_L7_THRIFT.rawValue: ctx = RequestPrefixParser.ttheader(prefix)
        case RL_L7_HTTP1.rawValue: ctx = RequestPrefixParser.http(prefix)
        default: return
        }
        var flags = UInt32(call.flags) | RL_CALL_PREFIX_CAPTURED.rawValue
        if let t = ctx.traceID, t.count == 16 {
            withUnsafeMutableBytes(of: &call.trace_id) { for i in 0..<16 { $0[i] = t[i] } }
            switch ctx.traceSource {
            case .w3c?: flags |= RL_CALL_TRACE_W3C.rawValue
            case .b3?: flags |= RL_CALL_TRACE_B3.rawValue
            case .ttheader?: flags |= RL_CALL_TRACE_TTHEADER.rawValue
            case nil: break
            }
        }
        if let s = ctx.spanID, s.count == 8 {
            withUnsafeMutableBytes(of: &call.span_id) { for i in 0..<8 { $0[i] = s[i] } }
        }
        var truncated = false
        if let h = ctx.host { truncated = CollectorRuntime.copy(h, into: &call.host) || truncated }
        if let r = ctx.route { truncated = CollectorRuntime.copy(r, into: &call.route) || truncated }
        if truncated { flags |= RL_CALL_TRUNCATED.rawValue }
        call.flags = UInt8(truncatingIfNeeded: flags)
    }
}
