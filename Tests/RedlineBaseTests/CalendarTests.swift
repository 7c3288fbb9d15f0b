import Glibc
import RedlineBase
import Testing

@Suite("One UTC calendar")
struct CalendarTests {
    @Test("civil date and day count round-trip over ±2000 years")
    func roundTrip() {
        for day in stride(from: -800_000, through: 800_000, by: 97) {
            let (y, m, d) = UTCCalendar.civil(fromDays: day)
            #expect(UTCCalendar.days(fromCivil: y, m, d) == day)
            #expect((1...UTCCalendar.daysIn(month: m, year: y)).contains(d))
        }
        #expect(UTCCalendar.dateString(days: 0) == "1970-01-01")
        #expect(UTCCalendar.days(fromDateString: "2024-02-29") == 19_782)
        for bad in ["2025-02-29", "2026-13-01", "2026-00-10", "26-11-24", "2026-1-01", ""] {
            #expect(UTCCalendar.days(fromDateString: Substring(bad)) == nil, "\(bad)")
        }
    }

    @Test("calendar fields agree with gmtime_r from 1900 to 2200, before the epoch too")
    func agreesWithGmtime() {
        // An irregular stride over the range reaches every month, day and second-of-day shape.
        let low: Int64 = -2_208_988_800_000_000_000, high: Int64 = 7_258_118_400_000_000_000
        let step: Int64 = 473_010_331_987_654_321
        var ns = low
        var checked = 0
        while ns < high {
            var secs = time_t(ns.floorDiv(1_000_000_000))
            var tm = tm()
            gmtime_r(&secs, &tm)
            let t = UTCTime(ns: ns)
            #expect([t.year, t.month, t.day, t.hour, t.minute, t.second]
                    == [Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday), Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec)],
                    "\(ns)")
            #expect(Int64(t.nanosecond) == ns.floorMod(1_000_000_000))
            ns += step / 23 + Int64(checked % 7919) * 1_000_003
            checked += 1
        }
        #expect(checked > 300)
    }

    @Test("formats: RFC 3339 with nanoseconds, compact, date")
    func formats() {
        #expect(utcISO8601(ns: 951_782_400_123_456_789) == "2000-02-29T00:00:00.123456789Z")
        #expect(utcISO8601(ns: -1) == "1969-12-31T23:59:59.999999999Z")
        let t = UTCTime(ns: 1_795_503_661_000_000_007)
        #expect(t.compactString == "20261124T070101Z")
        #expect(t.dateString == "2026-11-24")
        #expect(t.days == 20_781)
    }
}

@Suite("One boot id")
struct BootIDTests {
    @Test("parses the kernel's UUID form and prints it back; malformed text is refused")
    func uuidText() throws {
        let text = "3f1c0d6e-5b7a-4c2e-9d41-0a8b6c2f7e19"
        let id = try #require(BootID(uuidString: text))
        #expect(id.description == text)
        #expect(id.bytes.first == 0x3f && id.bytes.last == 0x19)
        #expect(BootID(bytes: id.bytes) == id)
        for bad in ["", "3f1c0d6e5b7a4c2e9d410a8b6c2f7e19", "3f1c0d6e-5b7a-4c2e-9d41-0a8b6c2f7e1g",
                    "3f1c0d6e-5b7a-4c2e-9d410-a8b6c2f7e19", "3f1c0d6e-5b7a-4c2e-9d41-0a8b6c2f7e199"] {
            #expect(BootID(uuidString: bad) == nil, "\(bad)")
        }
    }

    @Test("orders as its text does")
    func order() throws {
        let texts = ["00000000-0000-0000-0000-0000000000ff", "0f000000-0000-0000-0000-000000000000",
                     "10000000-0000-0000-0000-000000000000", "ff000000-0000-0000-0000-000000000001"]
        let ids = try texts.map { try #require(BootID(uuidString: $0)) }
        #expect(ids.shuffled().sorted() == ids)
        #expect(ids.sorted().map(\.description) == texts.sorted())
    }

    @Test("the running kernel's boot id reads")
    func current() throws {
        let text = try POSIXFile.readSmallFile("/proc/sys/kernel/random/boot_id").trimmingWhitespace()
        #expect(try BootID.current()?.description == text)
    }
}
