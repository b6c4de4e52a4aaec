// The sample data is whole: the knowledge base (data/kb) has enough documents, each with a title
// and a size that chunks sensibly; every question of data/kb/eval.json names documents that exist
// and every document is the expected answer of at least one question (so the retrieval
// evaluation covers the corpus), and no question copies a document's wording; every policy record (data/policies) parses and has the fields
// the bot and the tests read, with clearly fictional contact data.
// Usage: node check_sample_data.mjs DATA_DIR   (exits 1 and lists every problem found)
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const MIN_DOCUMENTS = 30;
const MIN_QUESTIONS = 40;
const MIN_POLICIES = 6;
const MIN_WORDS = 150;
const MAX_WORDS = 900;
const DOCUMENT_EXTENSIONS = [".md", ".txt", ".html"];
// Questions are paraphrased: none may repeat this many consecutive words of any document.
const COPIED_RUN_WORDS = 6;

const dataDir = process.argv[2];
if (!dataDir) {
    console.error("usage: node check_sample_data.mjs DATA_DIR");
    process.exit(2);
}
const problems = [];
const problem = (text) => problems.push(text);

function readJson(path) {
    try {
        return JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
        problem(`${path}: not valid JSON (${err.message})`);
        return null;
    }
}

// HTML is counted and titled as the ingest strips it: without its head, scripts, styles and tags.
function visibleText(name, text) {
    if (!name.endsWith(".html")) return text;
    return text
        .replace(/<(head|script|style)[\s\S]*?<\/\1>/gi, " ")
        .replace(/<[^>]*>/g, " ")
        .replace(/&[a-z#0-9]+;/gi, " ");
}

const words = (text) => text.toLowerCase().match(/[a-z0-9£]+/g) || [];

// The first run of COPIED_RUN_WORDS consecutive question words found in a document, or null.
function copiedRun(question, documentWords) {
    const q = words(question);
    for (let i = 0; i + COPIED_RUN_WORDS <= q.length; i++) {
        const run = " " + q.slice(i, i + COPIED_RUN_WORDS).join(" ") + " ";
        for (const [name, text] of documentWords) if (text.includes(run)) return { name, run: run.trim() };
    }
    return null;
}

function checkDocument(kbDir, name) {
    const text = readFileSync(join(kbDir, name), "utf8");
    if (name.endsWith(".html")) {
        if (!/<title>[^<]+<\/title>/i.test(text)) problem(`${name}: no <title>`);
        if (!/<h1>[^<]+<\/h1>/i.test(text)) problem(`${name}: no <h1> heading`);
        if (!/<h2>[^<]+<\/h2>/i.test(text)) problem(`${name}: no <h2> sections`);
    } else {
        if (!/^# \S/.test(text)) problem(`${name}: does not start with a "# Title" line`);
        if (!/^## \S/m.test(text)) problem(`${name}: no "## " sections`);
    }
    const words = visibleText(name, text).split(/\s+/).filter(Boolean).length;
    if (words < MIN_WORDS || words > MAX_WORDS)
        problem(`${name}: ${words} words, outside ${MIN_WORDS}..${MAX_WORDS}`);
}

function checkKnowledgeBase() {
    const kbDir = join(dataDir, "kb");
    const documents = readdirSync(kbDir)
        .filter((n) => DOCUMENT_EXTENSIONS.some((ext) => n.endsWith(ext)))
        .sort();
    if (documents.length < MIN_DOCUMENTS)
        problem(`data/kb: ${documents.length} documents, fewer than ${MIN_DOCUMENTS}`);
    documents.forEach((name) => checkDocument(kbDir, name));
    const documentWords = documents.map((name) => [
        name,
        " " + words(visibleText(name, readFileSync(join(kbDir, name), "utf8"))).join(" ") + " ",
    ]);

    const evalSet = readJson(join(kbDir, "eval.json"));
    const questions = evalSet && Array.isArray(evalSet.questions) ? evalSet.questions : [];
    if (evalSet && !Array.isArray(evalSet.questions)) problem("eval.json: no \"questions\" array");
    if (questions.length < MIN_QUESTIONS)
        problem(`eval.json: ${questions.length} questions, fewer than ${MIN_QUESTIONS}`);
    const named = new Set();
    const seen = new Set();
    questions.forEach((item, i) => {
        const where = `eval.json question ${i + 1}`;
        if (typeof item.q !== "string" || item.q.trim() === "") problem(`${where}: no "q" text`);
        else if (seen.has(item.q)) problem(`${where}: repeats "${item.q}"`);
        else seen.add(item.q);
        const copied = typeof item.q === "string" ? copiedRun(item.q, documentWords) : null;
        if (copied) problem(`${where}: copies "${copied.run}" from ${copied.name}; paraphrase it`);
        if (!Array.isArray(item.expect) || item.expect.length === 0) {
            problem(`${where}: no "expect" file names`);
            return;
        }
        for (const file of item.expect) {
            if (!documents.includes(file)) problem(`${where}: expects "${file}", which is not a document in data/kb`);
            named.add(file);
        }
    });
    for (const name of documents)
        if (!named.has(name)) problem(`${name}: no question in eval.json expects it`);
    return { documents: documents.length, questions: questions.length };
}

const isDate = (v) => typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v) && !isNaN(Date.parse(v));
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

function checkPolicy(name, record) {
    const need = (cond, what) => cond || problem(`${name}: ${what}`);
    if (!isObject(record)) return need(false, "not a JSON object");
    need(record.policy_number === name.replace(/\.json$/, ""), "policy_number differs from the file name");
    const holder = record.holder;
    if (need(isObject(holder), "no holder object")) {
        for (const field of ["name", "date_of_birth", "postcode", "email"])
            need(typeof holder[field] === "string" && holder[field] !== "", `holder.${field} missing`);
        need(isDate(holder.date_of_birth), "holder.date_of_birth is not YYYY-MM-DD");
        need(/@example\.com$/.test(holder.email || ""), "holder.email is not a fictional @example.com address");
        need(/^ZZ\d{1,2} \d[A-Z]{2}$/.test(holder.postcode || ""), "holder.postcode is not a fictional ZZ postcode");
    }
    need(["motor", "home", "travel"].includes(record.product), "product is not motor, home or travel");
    need(typeof record.cover_level === "string" && record.cover_level !== "", "cover_level missing");
    need(isDate(record.start_date) && isDate(record.end_date), "start_date/end_date missing or not YYYY-MM-DD");
    need(!(record.start_date >= record.end_date), "start_date is not before end_date");
    need(isObject(record.excess), "no excess object");
    need(isObject(record.add_ons), "no add_ons object");
    need(Array.isArray(record.claims_history), "no claims_history array");
    need(isObject(record.premium) && typeof record.premium.total_gbp === "number", "no premium.total_gbp");
    if (record.product === "motor") {
        need(isObject(record.vehicle) && typeof record.vehicle.registration === "string", "motor: no vehicle");
        need(Array.isArray(record.named_drivers), "motor: no named_drivers array");
        need(typeof record.add_ons?.windscreen_cover === "boolean", "motor: add_ons.windscreen_cover not true/false");
    }
    if (record.product === "home") need(isObject(record.property), "home: no property object");
    if (record.product === "travel")
        need(Array.isArray(record.destinations) && record.destinations.length > 0, "travel: no destinations");
    if (typeof record.add_ons?.legal_expenses !== "boolean") problem(`${name}: add_ons.legal_expenses not true/false`);
}

function checkPolicies() {
    const dir = join(dataDir, "policies");
    const files = readdirSync(dir).filter((n) => n.endsWith(".json")).sort();
    for (const name of files) {
        if (!/^POL-\d{6}\.json$/.test(name)) problem(`${name}: not named POL-NNNNNN.json`);
        const record = readJson(join(dir, name));
        if (record !== null) checkPolicy(name, record);
    }
    if (files.length < MIN_POLICIES) problem(`data/policies: ${files.length} records, fewer than ${MIN_POLICIES}`);
    return files.length;
}

let counts = {};
try {
    counts = { ...checkKnowledgeBase(), policies: checkPolicies() };
} catch (err) {
    problem(err.message);
}
if (problems.length > 0) {
    console.error(problems.join("\n"));
    console.error(`${problems.length} problem(s) in the sample data`);
    process.exit(1);
}
console.log(`sample data complete: ${counts.documents} documents, ${counts.questions} questions, ${counts.policies} policy records`);
