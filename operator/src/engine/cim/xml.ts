// CIM-XML (DSP0201) encoding and decoding of the messages the cim driver, its indication listener and the test
// array exchange (DSP0200): intrinsic and extrinsic calls, their responses with ERROR elements, and
// EXPORTMETHODCALL ExportIndication. XML is built with fast-xml-builder (which escapes text and
// attributes) and parsed with its XMLParser into plain objects, never by string concatenation; values travel as
// their wire text with their CIM type, and cim/values.ts-style conversions happen in model.ts.
import XMLBuilder from "fast-xml-builder";
import { XMLParser } from "fast-xml-parser";

export type CimScalarType =
  | "string"
  | "boolean"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "sint16"
  | "sint32"
  | "sint64"
  | "real64"
  | "datetime"
  | "char16";

/** A key value in an instance name: its wire text and type, or a reference. */
export type KeyValue =
  | { readonly kind: "scalar"; readonly type: CimScalarType; readonly text: string }
  | { readonly kind: "ref"; readonly ref: InstanceName };

/** CIM_InstanceName: a class and its key bindings; namespace when the path carries one. */
export interface InstanceName {
  readonly className: string;
  readonly keys: Readonly<Record<string, KeyValue>>;
  readonly namespace?: string;
}

/** A property or parameter value on the wire. `null` text is a NULL value (no VALUE element). */
export type CimValue =
  | { readonly kind: "scalar"; readonly type: CimScalarType; readonly text: string | null; readonly embedded?: true }
  | { readonly kind: "array"; readonly type: CimScalarType; readonly items: readonly string[] }
  | { readonly kind: "ref"; readonly ref: InstanceName | null };

export interface Instance {
  readonly className: string;
  readonly properties: Readonly<Record<string, CimValue>>;
}

export interface NamedInstance {
  readonly name: InstanceName;
  readonly instance: Instance;
}

export interface CimErrorElement {
  readonly code: number;
  readonly description: string;
  /** Embedded CIM_Error instances (DSP0201 2.3 allows them inside ERROR). */
  readonly instances: readonly Instance[];
}

export type IntrinsicParam =
  | { readonly kind: "name"; readonly name: InstanceName }
  | { readonly kind: "instance"; readonly instance: Instance }
  | { readonly kind: "className"; readonly className: string }
  | { readonly kind: "value"; readonly text: string };

export type Request =
  | {
      readonly kind: "intrinsic";
      readonly id: string;
      readonly method: string;
      readonly namespace: string;
      readonly params: Readonly<Record<string, IntrinsicParam>>;
    }
  | {
      readonly kind: "extrinsic";
      readonly id: string;
      readonly method: string;
      readonly namespace: string;
      readonly target: InstanceName;
      readonly params: Readonly<Record<string, CimValue>>;
    }
  | { readonly kind: "export"; readonly id: string; readonly indication: Instance };

/** What an intrinsic call returns (IRETURNVALUE) or an extrinsic one (RETURNVALUE and out parameters). */
export type ReturnValue =
  | { readonly kind: "none" }
  | { readonly kind: "names"; readonly names: readonly InstanceName[] }
  | { readonly kind: "instances"; readonly instances: readonly NamedInstance[] }
  | { readonly kind: "instance"; readonly instance: Instance }
  | { readonly kind: "name"; readonly name: InstanceName }
  | { readonly kind: "method"; readonly value: CimValue; readonly out: Readonly<Record<string, CimValue>> };

export type Response =
  | { readonly id: string; readonly method: string; readonly ok: ReturnValue }
  | { readonly id: string; readonly method: string; readonly error: CimErrorElement };

export class CimXmlError extends Error {}

// --- building -------------------------------------------------------------------------------------------------

type Node = Record<string, unknown>;

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  textNodeName: "#text",
  suppressEmptyNode: true,
  processEntities: true,
});

function nsPath(namespace: string): Node {
  return { NAMESPACE: namespace.split("/").map((n) => ({ "@_NAME": n })) };
}

function keyBinding(name: string, v: KeyValue): Node {
  if (v.kind === "ref") return { "@_NAME": name, "VALUE.REFERENCE": refNode(v.ref) };
  return { "@_NAME": name, KEYVALUE: { "@_VALUETYPE": keyValueType(v.type), "@_TYPE": v.type, "#text": v.text } };
}

function keyValueType(t: CimScalarType): string {
  if (t === "string" || t === "datetime" || t === "char16") return "string";
  if (t === "boolean") return "boolean";
  return "numeric";
}

function nameNode(n: InstanceName): Node {
  return {
    "@_CLASSNAME": n.className,
    KEYBINDING: Object.entries(n.keys).map(([k, v]) => keyBinding(k, v)),
  };
}

function refNode(n: InstanceName): Node {
  if (n.namespace === undefined) return { INSTANCENAME: nameNode(n) };
  return { LOCALINSTANCEPATH: { LOCALNAMESPACEPATH: nsPath(n.namespace), INSTANCENAME: nameNode(n) } };
}

function valueNodes(v: CimValue): Node {
  switch (v.kind) {
    case "scalar":
      return v.text === null ? {} : { VALUE: { "#text": v.text } };
    case "array":
      return { "VALUE.ARRAY": { VALUE: v.items.map((t) => ({ "#text": t })) } };
    case "ref":
      return v.ref === null ? {} : { "VALUE.REFERENCE": refNode(v.ref) };
  }
}

function instanceNode(i: Instance): Node {
  const props: Node[] = [];
  const arrays: Node[] = [];
  const refs: Node[] = [];
  for (const [name, v] of Object.entries(i.properties)) {
    if (v.kind === "ref") refs.push({ "@_NAME": name, "@_REFERENCECLASS": v.ref?.className, ...valueNodes(v) });
    else if (v.kind === "array") arrays.push({ "@_NAME": name, "@_TYPE": v.type, ...valueNodes(v) });
    else
      props.push({
        "@_NAME": name,
        "@_TYPE": v.type,
        ...(v.embedded === true ? { "@_EmbeddedObject": "instance" } : {}),
        ...valueNodes(v),
      });
  }
  return {
    "@_CLASSNAME": i.className,
    PROPERTY: props,
    "PROPERTY.ARRAY": arrays,
    "PROPERTY.REFERENCE": refs,
  };
}

function paramValue(name: string, v: CimValue): Node {
  const type = v.kind === "ref" ? "reference" : v.type;
  return {
    "@_NAME": name,
    "@_PARAMTYPE": type,
    ...(v.kind === "scalar" && v.embedded === true ? { "@_EmbeddedObject": "instance" } : {}),
    ...valueNodes(v),
  };
}

function iparam(name: string, p: IntrinsicParam): Node {
  switch (p.kind) {
    case "name":
      return { "@_NAME": name, INSTANCENAME: nameNode(p.name) };
    case "instance":
      return { "@_NAME": name, INSTANCE: instanceNode(p.instance) };
    case "className":
      return { "@_NAME": name, CLASSNAME: { "@_NAME": p.className } };
    case "value":
      return { "@_NAME": name, VALUE: { "#text": p.text } };
  }
}

function envelope(message: Node): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    builder.build({ CIM: { "@_CIMVERSION": "2.0", "@_DTDVERSION": "2.0", MESSAGE: message } })
  );
}

/** An instance as the text of an embedded object (a TargetSettingGoal, a CIM_Error), DSP0201 §3.2.6. */
export function embedInstance(i: Instance): string {
  return builder.build({ INSTANCE: instanceNode(i) });
}

export function encodeRequest(r: Request): string {
  const head = { "@_ID": r.id, "@_PROTOCOLVERSION": "1.0" };
  switch (r.kind) {
    case "intrinsic":
      return envelope({
        ...head,
        SIMPLEREQ: {
          IMETHODCALL: {
            "@_NAME": r.method,
            LOCALNAMESPACEPATH: nsPath(r.namespace),
            IPARAMVALUE: Object.entries(r.params).map(([k, p]) => iparam(k, p)),
          },
        },
      });
    case "extrinsic":
      return envelope({
        ...head,
        SIMPLEREQ: {
          METHODCALL: {
            "@_NAME": r.method,
            LOCALINSTANCEPATH: { LOCALNAMESPACEPATH: nsPath(r.namespace), INSTANCENAME: nameNode(r.target) },
            PARAMVALUE: Object.entries(r.params).map(([k, v]) => paramValue(k, v)),
          },
        },
      });
    case "export":
      return envelope({
        ...head,
        SIMPLEEXPREQ: {
          EXPMETHODCALL: {
            "@_NAME": "ExportIndication",
            EXPPARAMVALUE: { "@_NAME": "NewIndication", INSTANCE: instanceNode(r.indication) },
          },
        },
      });
  }
}

function returnNode(v: ReturnValue): Node {
  switch (v.kind) {
    case "none":
      return {};
    case "names":
      return { IRETURNVALUE: { INSTANCENAME: v.names.map(nameNode) } };
    case "instances":
      return {
        IRETURNVALUE: {
          "VALUE.NAMEDINSTANCE": v.instances.map((n) => ({
            INSTANCENAME: nameNode(n.name),
            INSTANCE: instanceNode(n.instance),
          })),
        },
      };
    case "instance":
      return { IRETURNVALUE: { INSTANCE: instanceNode(v.instance) } };
    case "name":
      return { IRETURNVALUE: { INSTANCENAME: nameNode(v.name) } };
    case "method":
      return {
        RETURNVALUE: { "@_PARAMTYPE": v.value.kind === "ref" ? "reference" : v.value.type, ...valueNodes(v.value) },
        PARAMVALUE: Object.entries(v.out).map(([k, p]) => paramValue(k, p)),
      };
  }
}

/** A response; `extrinsic` chooses METHODRESPONSE over IMETHODRESPONSE, `exported` EXPMETHODRESPONSE. */
export function encodeResponse(r: Response, form: "intrinsic" | "extrinsic" | "export"): string {
  const body =
    "error" in r
      ? {
          ERROR: {
            "@_CODE": String(r.error.code),
            "@_DESCRIPTION": r.error.description,
            INSTANCE: r.error.instances.map(instanceNode),
          },
        }
      : returnNode(r.ok);
  const element =
    form === "intrinsic" ? "IMETHODRESPONSE" : form === "extrinsic" ? "METHODRESPONSE" : "EXPMETHODRESPONSE";
  const wrapper = form === "export" ? "SIMPLEEXPRSP" : "SIMPLERSP";
  return envelope({
    "@_ID": r.id,
    "@_PROTOCOLVERSION": "1.0",
    [wrapper]: { [element]: { "@_NAME": r.method, ...body } },
  });
}

// --- parsing --------------------------------------------------------------------------------------------------

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  textNodeName: "#text",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  alwaysCreateTextNode: true,
  isArray: (_name, _path, _leaf, isAttribute) => !isAttribute,
  processEntities: true,
});

function children(n: Node | undefined, tag: string): Node[] {
  const c = n?.[tag];
  return Array.isArray(c) ? (c as Node[]) : [];
}

function child(n: Node | undefined, tag: string): Node | undefined {
  return children(n, tag)[0];
}

function need(n: Node | undefined, tag: string, where: string): Node {
  const c = child(n, tag);
  if (c === undefined) throw new CimXmlError(`malformed CIM-XML: ${where} has no ${tag}`);
  return c;
}

function attr(n: Node | undefined, name: string): string | undefined {
  const a = n?.[`@_${name}`];
  return typeof a === "string" ? a : undefined;
}

function needAttr(n: Node | undefined, name: string, where: string): string {
  const a = attr(n, name);
  if (a === undefined) throw new CimXmlError(`malformed CIM-XML: ${where} has no ${name} attribute`);
  return a;
}

function text(n: Node | undefined): string {
  const t = n?.["#text"];
  return typeof t === "string" ? t : "";
}

function parseNamespace(n: Node | undefined): string {
  return children(n, "NAMESPACE")
    .map((x) => needAttr(x, "NAME", "NAMESPACE"))
    .join("/");
}

function scalarType(t: string | undefined): CimScalarType {
  switch (t) {
    case "string":
    case "boolean":
    case "uint8":
    case "uint16":
    case "uint32":
    case "uint64":
    case "sint16":
    case "sint32":
    case "sint64":
    case "real64":
    case "datetime":
    case "char16":
      return t;
    case undefined:
      return "string";
    default:
      throw new CimXmlError(`malformed CIM-XML: unknown type ${t}`);
  }
}

function parseName(n: Node, namespace?: string): InstanceName {
  const keys: Record<string, KeyValue> = {};
  for (const kb of children(n, "KEYBINDING")) {
    const name = needAttr(kb, "NAME", "KEYBINDING");
    const ref = child(kb, "VALUE.REFERENCE");
    if (ref !== undefined) {
      keys[name] = { kind: "ref", ref: parseRef(ref) };
      continue;
    }
    const kv = need(kb, "KEYVALUE", "KEYBINDING");
    const vt = attr(kv, "VALUETYPE");
    keys[name] = {
      kind: "scalar",
      type: scalarType(attr(kv, "TYPE") ?? (vt === "numeric" ? "uint64" : vt === "boolean" ? "boolean" : "string")),
      text: text(kv),
    };
  }
  const className = needAttr(n, "CLASSNAME", "INSTANCENAME");
  return namespace === undefined || namespace === "" ? { className, keys } : { className, keys, namespace };
}

/** VALUE.REFERENCE: INSTANCEPATH, LOCALINSTANCEPATH or INSTANCENAME. */
function parseRef(n: Node): InstanceName {
  const full = child(n, "INSTANCEPATH");
  if (full !== undefined) {
    const ns = child(need(full, "NAMESPACEPATH", "INSTANCEPATH"), "LOCALNAMESPACEPATH");
    return parseName(need(full, "INSTANCENAME", "INSTANCEPATH"), parseNamespace(ns));
  }
  const local = child(n, "LOCALINSTANCEPATH");
  if (local !== undefined)
    return parseName(
      need(local, "INSTANCENAME", "LOCALINSTANCEPATH"),
      parseNamespace(child(local, "LOCALNAMESPACEPATH")),
    );
  return parseName(need(n, "INSTANCENAME", "VALUE.REFERENCE"));
}

function parseValue(n: Node, type: CimScalarType, embedded: boolean): CimValue {
  const arr = child(n, "VALUE.ARRAY");
  if (arr !== undefined) return { kind: "array", type, items: children(arr, "VALUE").map(text) };
  const v = child(n, "VALUE");
  const t = v === undefined ? null : text(v);
  return embedded ? { kind: "scalar", type, text: t, embedded: true } : { kind: "scalar", type, text: t };
}

function isEmbedded(n: Node): boolean {
  const e = attr(n, "EmbeddedObject") ?? attr(n, "EMBEDDEDOBJECT");
  return e === "instance" || e === "object";
}

export function parseInstance(n: Node): Instance {
  const properties: Record<string, CimValue> = {};
  for (const p of children(n, "PROPERTY"))
    properties[needAttr(p, "NAME", "PROPERTY")] = parseValue(p, scalarType(attr(p, "TYPE")), isEmbedded(p));
  for (const p of children(n, "PROPERTY.ARRAY")) {
    const arr = child(p, "VALUE.ARRAY");
    properties[needAttr(p, "NAME", "PROPERTY.ARRAY")] = {
      kind: "array",
      type: scalarType(attr(p, "TYPE")),
      items: children(arr, "VALUE").map(text),
    };
  }
  for (const p of children(n, "PROPERTY.REFERENCE")) {
    const r = child(p, "VALUE.REFERENCE");
    properties[needAttr(p, "NAME", "PROPERTY.REFERENCE")] = { kind: "ref", ref: r === undefined ? null : parseRef(r) };
  }
  return { className: needAttr(n, "CLASSNAME", "INSTANCE"), properties };
}

/** The text of an embedded instance (EmbeddedObject="instance") back into an instance. */
export function parseEmbedded(xml: string): Instance {
  const doc = parseDocument(xml);
  return parseInstance(need(doc, "INSTANCE", "embedded object"));
}

function parseDocument(xml: string): Node {
  try {
    return parser.parse(xml) as Node;
  } catch (e: unknown) {
    throw new CimXmlError(`malformed CIM-XML: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function message(xml: string): Node {
  const cim = need(parseDocument(xml), "CIM", "document");
  return need(cim, "MESSAGE", "CIM");
}

function paramValues(ns: Node[]): Record<string, CimValue> {
  const out: Record<string, CimValue> = {};
  for (const p of ns) {
    const name = needAttr(p, "NAME", "PARAMVALUE");
    const ref = child(p, "VALUE.REFERENCE");
    if (attr(p, "PARAMTYPE") === "reference" || ref !== undefined) {
      out[name] = { kind: "ref", ref: ref === undefined ? null : parseRef(ref) };
      continue;
    }
    out[name] = parseValue(p, scalarType(attr(p, "PARAMTYPE")), isEmbedded(p));
  }
  return out;
}

function parseIParam(p: Node): IntrinsicParam {
  const name = child(p, "INSTANCENAME");
  if (name !== undefined) return { kind: "name", name: parseName(name) };
  const inst = child(p, "INSTANCE");
  if (inst !== undefined) return { kind: "instance", instance: parseInstance(inst) };
  const cls = child(p, "CLASSNAME");
  if (cls !== undefined) return { kind: "className", className: needAttr(cls, "NAME", "CLASSNAME") };
  return { kind: "value", text: text(child(p, "VALUE")) };
}

export function decodeRequest(xml: string): Request {
  const msg = message(xml);
  const id = needAttr(msg, "ID", "MESSAGE");
  const exp = child(msg, "SIMPLEEXPREQ");
  if (exp !== undefined) {
    const call = need(exp, "EXPMETHODCALL", "SIMPLEEXPREQ");
    const param = need(call, "EXPPARAMVALUE", "EXPMETHODCALL");
    return { kind: "export", id, indication: parseInstance(need(param, "INSTANCE", "EXPPARAMVALUE")) };
  }
  const req = need(msg, "SIMPLEREQ", "MESSAGE");
  const icall = child(req, "IMETHODCALL");
  if (icall !== undefined) {
    const params: Record<string, IntrinsicParam> = {};
    for (const p of children(icall, "IPARAMVALUE")) params[needAttr(p, "NAME", "IPARAMVALUE")] = parseIParam(p);
    return {
      kind: "intrinsic",
      id,
      method: needAttr(icall, "NAME", "IMETHODCALL"),
      namespace: parseNamespace(child(icall, "LOCALNAMESPACEPATH")),
      params,
    };
  }
  const call = need(req, "METHODCALL", "SIMPLEREQ");
  const path = need(call, "LOCALINSTANCEPATH", "METHODCALL");
  return {
    kind: "extrinsic",
    id,
    method: needAttr(call, "NAME", "METHODCALL"),
    namespace: parseNamespace(child(path, "LOCALNAMESPACEPATH")),
    target: parseName(need(path, "INSTANCENAME", "LOCALINSTANCEPATH")),
    params: paramValues(children(call, "PARAMVALUE")),
  };
}

function parseReturn(r: Node): ReturnValue {
  const irv = child(r, "IRETURNVALUE");
  if (irv !== undefined) {
    const named = children(irv, "VALUE.NAMEDINSTANCE");
    if (named.length > 0)
      return {
        kind: "instances",
        instances: named.map((n) => ({
          name: parseName(need(n, "INSTANCENAME", "VALUE.NAMEDINSTANCE")),
          instance: parseInstance(need(n, "INSTANCE", "VALUE.NAMEDINSTANCE")),
        })),
      };
    const withPath = children(irv, "VALUE.OBJECTWITHPATH");
    if (withPath.length > 0)
      return {
        kind: "instances",
        instances: withPath.map((n) => {
          const path = need(n, "INSTANCEPATH", "VALUE.OBJECTWITHPATH");
          const ns = child(need(path, "NAMESPACEPATH", "INSTANCEPATH"), "LOCALNAMESPACEPATH");
          return {
            name: parseName(need(path, "INSTANCENAME", "INSTANCEPATH"), parseNamespace(ns)),
            instance: parseInstance(need(n, "INSTANCE", "VALUE.OBJECTWITHPATH")),
          };
        }),
      };
    const inst = child(irv, "INSTANCE");
    if (inst !== undefined) return { kind: "instance", instance: parseInstance(inst) };
    const names = children(irv, "INSTANCENAME");
    if (names.length === 1 && attr(r, "NAME") === "CreateInstance")
      return { kind: "name", name: parseName(names[0] ?? {}) };
    return { kind: "names", names: names.map((n) => parseName(n)) };
  }
  const rv = child(r, "RETURNVALUE");
  if (rv !== undefined)
    return {
      kind: "method",
      value: parseValue(rv, scalarType(attr(rv, "PARAMTYPE")), false),
      out: paramValues(children(r, "PARAMVALUE")),
    };
  return { kind: "none" };
}

export function decodeResponse(xml: string): Response {
  const msg = message(xml);
  const id = needAttr(msg, "ID", "MESSAGE");
  const rsp = child(msg, "SIMPLERSP") ?? need(msg, "SIMPLEEXPRSP", "MESSAGE");
  const r = child(rsp, "IMETHODRESPONSE") ?? child(rsp, "METHODRESPONSE") ?? need(rsp, "EXPMETHODRESPONSE", "response");
  const method = needAttr(r, "NAME", "response");
  const err = child(r, "ERROR");
  if (err !== undefined) {
    const code = Number(needAttr(err, "CODE", "ERROR"));
    if (!Number.isInteger(code)) throw new CimXmlError("malformed CIM-XML: ERROR CODE is not a number");
    return {
      id,
      method,
      error: {
        code,
        description: attr(err, "DESCRIPTION") ?? "",
        instances: children(err, "INSTANCE").map(parseInstance),
      },
    };
  }
  return { id, method, ok: parseReturn(r) };
}
