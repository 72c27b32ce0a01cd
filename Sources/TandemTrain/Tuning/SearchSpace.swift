import Foundation
import Yams
import TandemTensor
import TandemData

/// One value a tuned key takes: a number, an integer, a flag, a word, or a list of them (`ease_lambdas`).
public enum ParameterValue: Codable, Hashable, Sendable, CustomStringConvertible {
    case number(Double)
    case integer(Int)
    case flag(Bool)
    case word(String)
    case list([ParameterValue])
    /// YAML text as given on the command line (`--set ks=[10,20]`), written as it is.
    case yamlText(String)

    /// The value as YAML writes it (`0.001`, `64`, `true`, `cosine`, `[10, 50]`): how it reaches a config.
    public var description: String {
        switch self {
        case .number(let x): return x == x.rounded() && abs(x) < 1e15 ? String(format: "%.1f", x) : "\(x)"
        case .integer(let n): return "\(n)"
        case .flag(let b): return b ? "true" : "false"
        case .word(let s):
            // Plain when YAML reads it back as this same string; otherwise quoted (a JSON string is a YAML string).
            if (try? Yams.load(yaml: s)) as? String == s, !s.contains("#"), !s.contains(": ") { return s }
            return String(data: try! JSONEncoder().encode(s), encoding: .utf8)!
        case .list(let xs): return "[" + xs.map(\.description).joined(separator: ", ") + "]"
        case .yamlText(let s): return s
        }
    }

    /// The value as Yams reads it (`Int`, `Double`, `Bool`, `String`, or a list of those).
    init(yaml value: Any, at path: String) throws {
        switch value {
        case let b as Bool: self = .flag(b)
        case let n as Int: self = .integer(n)
        case let x as Double: self = .number(x)
        case let s as String: self = .word(s)
        case let xs as [Any]: self = .list(try xs.map { try ParameterValue(yaml: $0, at: path) })
        default: throw ConfigError("\(path): expected a number, a word, true/false or a list, got '\(value)'")
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .flag(b) } else if let n = try? c.decode(Int.self) { self = .integer(n) } else if let x = try? c.decode(Double.self) {
            self = .number(x)
        } else if let s = try? c.decode(String.self) { self = .word(s) } else { self = .list(try c.decode([ParameterValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let x): try c.encode(x)
        case .integer(let n): try c.encode(n)
        case .flag(let b): try c.encode(b)
        case .word(let s), .yamlText(let s): try c.encode(s)
        case .list(let xs): try c.encode(xs)
        }
    }
}

/// How one key of the search space is drawn.
public enum Distribution: Equatable, Sendable {
    /// One of these values (the only kind grid search takes).
    case choice([ParameterValue])
    /// Uniform in [low, high].
    case uniform(Double, Double)
    /// log-uniform in [low, high] (both positive): learning rates, weight decays, temperatures, λ.
    case logUniform(Double, Double)
    /// A uniform integer in [low, high], both included.
    case integer(Int, Int)

    /// One draw.
    func draw(_ rng: inout RNG) -> ParameterValue {
        switch self {
        case .choice(let values): return values[rng.int(below: values.count)]
        case .uniform(let a, let b): return .number(a + (b - a) * rng.uniformDouble())
        case .logUniform(let a, let b): return .number(Foundation.exp(Foundation.log(a) + (Foundation.log(b) - Foundation.log(a)) * rng.uniformDouble()))
        case .integer(let a, let b): return .integer(a + rng.int(below: b - a + 1))
        }
    }

    /// Reads `{choice: [...]}`, `{uniform: [a, b]}`, `{log_uniform: [a, b]}` or `{int: [a, b]}`; a bare list is a choice.
    init(yaml value: Any, key: String, file: String) throws {
        let path = "\(file): space.\(key)"
        if let list = value as? [Any] { self = .choice(try list.map { try ParameterValue(yaml: $0, at: path) }); return }
        guard let map = value as? [String: Any], map.count == 1, let (kind, raw) = map.first else {
            throw ConfigError("\(path): expected one of {choice: [...]}, {uniform: [low, high]}, {log_uniform: [low, high]}, {int: [low, high]}")
        }
        func bounds() throws -> (Double, Double) {
            guard let xs = raw as? [Any], xs.count == 2, let a = (xs[0] as? Double) ?? (xs[0] as? Int).map(Double.init),
                  let b = (xs[1] as? Double) ?? (xs[1] as? Int).map(Double.init), a <= b else {
                throw ConfigError("\(path): \(kind) takes [low, high] with low ≤ high")
            }
            return (a, b)
        }
        switch kind {
        case "choice":
            guard let xs = raw as? [Any], !xs.isEmpty else { throw ConfigError("\(path): choice takes a non-empty list") }
            self = .choice(try xs.map { try ParameterValue(yaml: $0, at: path) })
        case "uniform": let (a, b) = try bounds(); self = .uniform(a, b)
        case "log_uniform":
            let (a, b) = try bounds()
            guard a > 0 else { throw ConfigError("\(path): log_uniform needs low > 0") }
            self = .logUniform(a, b)
        case "int":
            let (a, b) = try bounds()
            guard a == a.rounded(), b == b.rounded() else { throw ConfigError("\(path): int takes whole-number bounds") }
            self = .integer(Int(a), Int(b))
        default:
            throw ConfigError("\(path): unknown distribution '\(kind)'; use choice, uniform, log_uniform or int")
        }
    }
}

/// A search: the settings every trial shares, the keys tuned and how each is drawn, how trials are chosen and cut.
///
/// ```yaml
/// base: {model: mf, dataset: book-crossing, epochs: 60}     # a config file's keys
/// space:
///   learning_rate: {log_uniform: [0.0005, 0.02]}
///   temperature: {choice: [0.05, 0.1, 0.2]}
/// search: random        # or grid: every combination of choice keys
/// trials: 20            # random search: how many configurations
/// include:              # tried first, before the grid or the draws (e.g. the defaults); each sets every tuned key
///   - {learning_rate: 0.003, temperature: 0.2}
/// seed: 1               # random search's draws
/// halving: {min_epochs: 5, eta: 3}    # successive halving over epochs (optional)
/// ```
public struct SearchSpace: Sendable {
    public enum Method: String, Sendable { case grid, random }

    /// The base settings as YAML text: what every trial starts from (then its own values on top).
    public var base: [String: ParameterValue]
    /// The tuned keys, sorted (the order of grid enumeration and of each random draw).
    public var keys: [String]
    public var distributions: [String: Distribution]
    public var method: Method
    public var trials: Int
    /// Configurations tried before the grid's or the draws' (Ray Tune's `points_to_evaluate`, Optuna's
    /// `enqueue_trial`): a known-good setting such as the model's defaults, so a search never ends below it.
    public var include: [[String: ParameterValue]]
    public var seed: UInt64
    /// First rung's epochs and the factor η between rungs (and of trials kept); nil: no halving.
    public var halving: (minEpochs: Int, eta: Int)?

    /// Reads a search-space file's text; `file` names it in errors. Every key, base and tuned, must be a config key.
    public init(yaml text: String, file: String = "space") throws {
        let loaded: Any?
        do { loaded = try Yams.load(yaml: text) } catch { throw ConfigError("\(file): not valid YAML: \(error)") }
        guard let top = loaded as? [String: Any] else { throw ConfigError("\(file): expected a mapping with base, space, search, trials") }
        let known: Set<String> = ["base", "space", "search", "trials", "seed", "halving", "include"]
        if let bad = top.keys.sorted().first(where: { !known.contains($0) }) {
            throw ConfigError("\(file): unknown key '\(bad)'; the keys are \(known.sorted().joined(separator: ", "))")
        }
        let configKeys = Set(TrainConfig.keys)
        func checkKey(_ k: String, _ part: String) throws {
            guard configKeys.contains(k) else { throw ConfigError("\(file): \(part).\(k) is not a config key; valid keys are: \(TrainConfig.keys.joined(separator: ", "))") }
        }
        base = [:]
        if let b = top["base"] {
            guard let map = b as? [String: Any] else { throw ConfigError("\(file): base must be a mapping of config keys") }
            for (k, v) in map { try checkKey(k, "base"); base[k] = try ParameterValue(yaml: v, at: "\(file): base.\(k)") }
        }
        guard let space = top["space"] as? [String: Any], !space.isEmpty else {
            throw ConfigError("\(file): space must map one or more config keys to their distributions")
        }
        keys = space.keys.sorted()
        var distributions: [String: Distribution] = [:]
        for k in keys {
            try checkKey(k, "space")
            if base[k] != nil { throw ConfigError("\(file): \(k) is both in base and in space") }
            distributions[k] = try Distribution(yaml: space[k]!, key: k, file: file)
        }
        self.distributions = distributions
        let m = (top["search"] as? String) ?? "random"
        guard let method = Method(rawValue: m) else { throw ConfigError("\(file): search '\(m)' is not one of grid, random") }
        self.method = method
        if method == .grid, let k = keys.first(where: { if case .choice = distributions[$0]! { return false }; return true }) {
            throw ConfigError("\(file): grid search takes choice keys only; \(k) is drawn from a range (use search: random)")
        }
        include = []
        if let inc = top["include"] {
            guard let list = inc as? [Any] else { throw ConfigError("\(file): include must be a list of mappings of the tuned keys") }
            for (n, entry) in list.enumerated() {
                let at = "\(file): include[\(n)]"
                guard let map = entry as? [String: Any] else { throw ConfigError("\(at) must be a mapping of the tuned keys") }
                if let bad = map.keys.sorted().first(where: { distributions[$0] == nil }) {
                    throw ConfigError("\(at).\(bad) is not a tuned key (tuned: \(keys.joined(separator: ", ")))")
                }
                if let missing = keys.first(where: { map[$0] == nil }) { throw ConfigError("\(at) does not set \(missing); each set every tuned key") }
                include.append(try map.mapValues { try ParameterValue(yaml: $0, at: at) })
            }
        }
        trials = (top["trials"] as? Int) ?? 20
        guard trials > 0 else { throw ConfigError("\(file): trials must be positive") }
        seed = UInt64((top["seed"] as? Int) ?? 1)
        if let h = top["halving"] {
            guard let map = h as? [String: Any], let r = map["min_epochs"] as? Int, r >= 1 else {
                throw ConfigError("\(file): halving takes {min_epochs: N ≥ 1, eta: η ≥ 2}")
            }
            let eta = (map["eta"] as? Int) ?? 3
            guard eta >= 2 else { throw ConfigError("\(file): halving's eta must be ≥ 2") }
            halving = (r, eta)
        }
    }

    /// Sets base keys from the command line (`--set key=value`, the value as YAML text); a tuned key cannot be set.
    public mutating func set(_ overrides: [String: String]) throws {
        for (k, v) in overrides {
            guard Set(TrainConfig.keys).contains(k) else { throw ConfigError("--set \(k): not a config key; valid keys are: \(TrainConfig.keys.joined(separator: ", "))") }
            guard distributions[k] == nil else { throw ConfigError("--set \(k): \(k) is tuned (it is in the search space)") }
            base[k] = .yamlText(v)
        }
    }

    /// The configurations to try, in order: the included ones, then every combination (grid, the last key varying
    /// fastest) or `trials` draws (random; drawing more keeps the first ones, so a rerun with a larger `trials`
    /// extends the search).
    public func configurations() -> [[String: ParameterValue]] { include + searched() }

    private func searched() -> [[String: ParameterValue]] {
        switch method {
        case .grid:
            var out: [[String: ParameterValue]] = [[:]]
            for k in keys {
                guard case .choice(let values) = distributions[k]! else { continue }
                out = out.flatMap { partial in values.map { var p = partial; p[k] = $0; return p } }
            }
            return out
        case .random:
            var rng = RNG(seed: seed)
            return (0..<trials).map { _ in Dictionary(uniqueKeysWithValues: keys.map { ($0, distributions[$0]!.draw(&rng)) }) }
        }
    }

    /// A trial's settings as YAML text: the base's keys, then the trial's (a key tuned as a number where the config
    /// holds a list, as `ease_lambdas`, becomes a one-element list), then `epochs` when given.
    public func yaml(_ values: [String: ParameterValue], epochs: Int? = nil) -> String {
        var lines: [String] = []
        for k in base.keys.sorted() where k != "epochs" || epochs == nil { lines.append("\(k): \(base[k]!)") }
        for k in keys {
            guard let v = values[k] else { continue }
            if case .list = v { lines.append("\(k): \(v)") } else { lines.append("\(k): \(Self.listKeys.contains(k) ? "[\(v)]" : "\(v)")") }
        }
        if let epochs { lines.append("epochs: \(epochs)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A fingerprint of what decides the trials' settings and scores (base, space, method, seed, halving): a trials
    /// file written for another search is refused rather than mixed in.
    public var fingerprint: String {
        let parts = base.keys.sorted().map { "base.\($0)=\(base[$0]!)" }
            + keys.map { "space.\($0)=\(distributions[$0]!)" }
            + include.map { c in "include=" + keys.map { "\($0)=\(c[$0]!)" }.joined(separator: ",") }
            + ["search=\(method.rawValue)", "seed=\(seed)",
               "halving=\(halving.map { "\($0.minEpochs)/\($0.eta)" } ?? "none")"]
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in parts.joined(separator: "\n").utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    /// Config keys whose value is a list (a number tuned for one becomes a one-element list).
    static let listKeys: Set<String> = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? e.encode(TrainConfig()), let map = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        return Set(map.filter { $0.value is [Any] }.keys)
    }()
}
