import Foundation

/// The OpenAPI 3.0 description of the HTTP API, served at `/openapi.json`, with a user and an item id of the served
/// model as the request examples (so a client that reads the schema can reach `/v1/score` and `/v1/similar-items`), and
/// the model's item feature fields as the properties `PUT /v1/items` accepts.
public func openAPIDocument(exampleUser: String?, exampleItem: String?, itemFeatures: [String] = []) -> String {
    func quoted(_ s: String) -> String { String(decoding: try! JSONEncoder().encode(s), as: UTF8.self) }
    let value = #"{"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "array", "items": {"type": "string"}}]}"#
    let features = #"{"type": "object", "additionalProperties": false, "properties": {"#
        + itemFeatures.map { "\(quoted($0)): \(value)" }.joined(separator: ", ") + "}}"
    return openAPITemplate
        .replacingOccurrences(of: "\"$USER\"", with: quoted(exampleUser ?? "u1"))
        .replacingOccurrences(of: "\"$ITEM\"", with: quoted(exampleItem ?? "i1"))
        .replacingOccurrences(of: "\"$ITEM_FEATURES\"", with: features)
}

private let openAPITemplate = #"""
{
  "openapi": "3.0.3",
  "info": {"title": "Tandem serving API", "version": "1.0.0",
           "description": "Recall from a trained Tandem model: nearest items for a user, similar items, and pre-ranking scores."},
  "paths": {
    "/v1/recommend": {"post": {
      "summary": "Top-k items for a known user, a cold-start user given by features, or the popularity fallback.",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RecommendRequest"}}}},
      "responses": {
        "200": {"description": "Recommended items, best first.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RecommendResponse"}}}},
        "400": {"$ref": "#/components/responses/Error"}, "413": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1/similar-items": {"post": {
      "summary": "Items nearest to an item (the item itself excluded).",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SimilarItemsRequest"}}}},
      "responses": {
        "200": {"description": "Similar items, best first.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemsResponse"}}}},
        "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1/score": {"post": {
      "summary": "Pre-ranking: the model's score of each candidate item for a user, best first.",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScoreRequest"}}}},
      "responses": {
        "200": {"description": "Scored candidates, best first.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemsResponse"}}}},
        "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/healthz": {"get": {"summary": "The process is up.", "responses": {"200": {"description": "ok"}}}},
    "/readyz": {"get": {"summary": "A model is loaded.", "responses": {"200": {"description": "ready"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/metrics": {"get": {"summary": "Prometheus metrics: requests by endpoint and status, latency histogram, model info, index size, reloads.", "responses": {"200": {"description": "text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    "/admin/reload": {"post": {"summary": "Reload the model directory; requests in flight keep the previous model, items added by PUT /v1/items are embedded again.",
      "security": [{"bearerAuth": []}],
      "responses": {"200": {"description": "reloaded"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                    "500": {"$ref": "#/components/responses/Error"}}}},
    "/v1/items": {"put": {"summary": "Add an item (or replace one with the same id), embedded from its feature values by the model's item tower; the next request can return it.",
      "security": [{"bearerAuth": []}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemRequest"}}}},
      "responses": {
        "200": {"description": "Replaced.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemChangeResponse"}}}},
        "201": {"description": "Added.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemChangeResponse"}}}},
        "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
        "409": {"$ref": "#/components/responses/Error"}, "413": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
    "/v1/items/{item_id}": {"delete": {"summary": "Hide an item from every answer (an item added by PUT is removed).",
      "security": [{"bearerAuth": []}],
      "parameters": [{"name": "item_id", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1}, "example": "$ITEM"}],
      "responses": {
        "200": {"description": "Deleted.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemChangeResponse"}}}},
        "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"},
        "503": {"$ref": "#/components/responses/Error"}}}}
  },
  "components": {
    "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
      "description": "The token in the file given to tandem serve --admin-token-file."}},
    "responses": {"Error": {"description": "An error with a message.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
    "schemas": {
      "RecommendRequest": {"type": "object",
        "description": "A known user (user_id) or a cold-start user (user_features) is required. An optional field sent as null is the same as leaving it out.",
        "anyOf": [{"required": ["user_id"], "properties": {"user_id": {"type": "string"}}},
                  {"required": ["user_features"], "properties": {"user_features": {"type": "object"}}}],
        "example": {"user_id": "$USER", "k": 10}, "properties": {
        "user_id": {"type": "string", "nullable": true, "example": "$USER"},
        "user_features": {"type": "object", "nullable": true, "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "array", "items": {"type": "string"}}]}},
        "k": {"type": "integer", "nullable": true, "minimum": 1, "maximum": 1000, "default": 10},
        "exclude_seen": {"type": "boolean", "nullable": true, "default": true},
        "exclude_items": {"type": "array", "nullable": true, "items": {"type": "string"}}}},
      "SimilarItemsRequest": {"type": "object", "required": ["item_id"], "example": {"item_id": "$ITEM", "k": 10}, "properties": {
        "item_id": {"type": "string", "example": "$ITEM"}, "k": {"type": "integer", "nullable": true, "minimum": 1, "maximum": 1000, "default": 10}}},
      "ScoreRequest": {"type": "object", "required": ["user_id", "candidates"],
        "example": {"user_id": "$USER", "candidates": ["$ITEM"]}, "properties": {
        "user_id": {"type": "string", "example": "$USER"}, "candidates": {"type": "array", "maxItems": 10000, "items": {"type": "string"}}}},
      "ScoredItem": {"type": "object", "required": ["item_id", "score"], "properties": {"item_id": {"type": "string"}, "score": {"type": "number"}}},
      "RecommendResponse": {"type": "object", "required": ["items", "source", "model_version"], "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/ScoredItem"}},
        "source": {"type": "string", "enum": ["model", "cold_start", "popularity"]},
        "model_version": {"type": "string"}}},
      "ItemsResponse": {"type": "object", "required": ["items", "model_version"], "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/ScoredItem"}}, "model_version": {"type": "string"}}},
      "ItemRequest": {"type": "object", "required": ["item_id", "features"], "properties": {
        "item_id": {"type": "string", "minLength": 1}, "features": "$ITEM_FEATURES"}},
      "ItemChangeResponse": {"type": "object", "required": ["item_id", "status", "items", "model_version"], "properties": {
        "item_id": {"type": "string"}, "status": {"type": "string", "enum": ["added", "replaced", "deleted"]},
        "items": {"type": "integer"}, "model_version": {"type": "string"}}},
      "Error": {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}}}
    }
  }
}
"""#
