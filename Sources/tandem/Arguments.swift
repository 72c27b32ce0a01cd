import ArgumentParser
import Foundation
import TandemData
import TandemModels
import TandemAutograd
import TandemTrain
import TandemIndex

// How settings types are read from the command line, and written back as config text (YAML scalars and lists) so
// flags merge with config files through one path (`TrainConfig.resolve`).

/// A flag value as the YAML text of a config key.
protocol ConfigText { var configText: String { get } }

extension Int: ConfigText { var configText: String { String(self) } }
extension UInt64: ConfigText { var configText: String { String(self) } }
extension Float: ConfigText { var configText: String { "\(self)" } }
extension Double: ConfigText { var configText: String { "\(self)" } }
extension Bool: ConfigText { var configText: String { self ? "true" : "false" } }
/// Quoted, so a value such as `123` or `true` stays a string.
extension String: ConfigText {
    var configText: String { String(decoding: try! JSONEncoder().encode(self), as: UTF8.self) }
}
extension RawRepresentable where RawValue == String {
    var configText: String { rawValue.configText }
}

extension ModelKind: ExpressibleByArgument, ConfigText {}
extension Similarity: ExpressibleByArgument, ConfigText {}
extension LossKind: ExpressibleByArgument, ConfigText {}
extension Optimizer.Kind: ExpressibleByArgument, ConfigText {}
extension TowerSelection: ExpressibleByArgument, ConfigText {}
extension SSLSelection: ExpressibleByArgument, ConfigText {}
extension FeatureAugmentation: ExpressibleByArgument, ConfigText {}
extension IALSSolver: ExpressibleByArgument, ConfigText {}
extension SGLAugmentation: ExpressibleByArgument, ConfigText {}
extension IndexMetric: ExpressibleByArgument {}
extension NegativeSampling: ExpressibleByArgument, ConfigText {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension SplitMethod: ExpressibleByArgument, ConfigText {
    public init?(argument: String) { self.init(parsing: argument) }
    var configText: String { spec.configText }
}

extension MetricAtK: ExpressibleByArgument, ConfigText {
    public init?(argument: String) { self.init(parsing: argument) }
    public static var allValueStrings: [String] { [] }
    var configText: String { description.configText }
}

/// Comma-separated numbers (`10,20,50`; `[10, 20]` also reads): `IntList`, `DoubleList`.
struct NumberList<Number: LosslessStringConvertible>: ExpressibleByArgument, ConfigText {
    var values: [Number]
    init?(argument: String) {
        let inner = argument.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
        let parts = inner.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let numbers = parts.compactMap { Number($0) }
        guard inner.isEmpty || numbers.count == parts.count else { return nil }
        values = inner.isEmpty ? [] : numbers
    }
    var configText: String { "[" + values.map(\.description).joined(separator: ", ") + "]" }
}

typealias IntList = NumberList<Int>
typealias DoubleList = NumberList<Double>

/// A comma-separated list of model names (`--models mf,ease`), each checked against the registered kinds.
struct ModelList {
    let kinds: [ModelKind]
    init(_ kinds: [ModelKind]) { self.kinds = kinds }

    /// The flag's value, or an error naming the first unknown model and the known ones.
    static func parse(_ argument: String) throws -> ModelList {
        let names = argument.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty else { throw ValidationError("--models needs at least one model") }
        return ModelList(try names.map { name in
            guard let kind = ModelKind(rawValue: name) else {
                throw ValidationError("model '\(name)' is not one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return kind
        })
    }
}

/// A comma-separated list of positive cut-offs (`--ks 10,20`).
struct CutOffs: ExpressibleByArgument {
    let values: [Int]
    init(_ values: [Int]) { self.values = values }
    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        values = parts.map { $0! }
    }
    var defaultValueDescription: String { values.map(String.init).joined(separator: ",") }
}
