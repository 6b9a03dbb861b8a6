// Writes lessons/index.json, the list of the site's lessons the page offers: for each
// Markdown file in the folder, {file, title, language} from its front matter.
// As a Trunk post-build hook it indexes the built site (TRUNK_STAGING_DIR/lessons); after
// adding a lesson to a deployed site: node scripts/lesson-index.mjs path/to/site/lessons
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? (process.env.TRUNK_STAGING_DIR && join(process.env.TRUNK_STAGING_DIR, 'lessons'));
if (!dir) {
  console.error('lesson-index: usage: node scripts/lesson-index.mjs LESSONS_DIR');
  process.exit(1);
}
if (!existsSync(dir)) process.exit(0);

/** The front matter's `key: value` fields (the page reads them the same way). */
function frontMatter(text) {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines[0].trim() !== '---') return {};
  const fields = {};
  for (const line of lines.slice(1)) {
    if (line.trim() === '---') return fields;
    const at = line.indexOf(':');
    if (at > 0) fields[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return {};
}

const lessons = readdirSync(dir)
  .filter((file) => file.endsWith('.md'))
  .sort()
  .map((file) => {
    const fields = frontMatter(readFileSync(join(dir, file), 'utf8'));
    return { file, title: fields.title || file, language: fields.language || '' };
  });
writeFileSync(join(dir, 'index.json'), JSON.stringify(lessons, null, 1) + '\n');
console.log(`lesson-index: ${lessons.length} lessons → ${join(dir, 'index.json')}`);
