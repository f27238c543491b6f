// The console's router: `#/<page>[/<name>][?query]` → one page function that fills <main>.
import { needsSignIn, showSessionInHeader, signInPage } from './auth.js';
import { errorBox, hashQuery, loading, mount } from './dom.js';
import { clusterPage } from './pages/cluster.js';
import { dlqIndexPage, dlqPage } from './pages/dlq.js';
import { groupOffsetTools } from './pages/offsets.js';
import { groupPage, groupsPage } from './pages/groups.js';
import { messagesPage } from './pages/messages.js';
import { wherePage } from './pages/where.js';
import { producersPage } from './pages/producers.js';
import { topicPage, topicsPage } from './pages/topics.js';

const main = document.getElementById('main')!;
let generation = 0;

async function route(): Promise<void> {
  const mine = ++generation;
  const path = location.hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  const [page = 'cluster', rawName] = path.split('/');
  const name = rawName === undefined ? undefined : decodeURIComponent(rawName);
  const query = hashQuery();
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a')) a.classList.toggle('active', a.dataset['page'] === page);
  document.title = `${name ?? page} · RocketMQ console`;
  mount(main, loading());
  // Pages render into a detached element, shown only if no newer navigation started meanwhile.
  const target = document.createElement('div');
  try {
    if (page === 'topics' && name) await topicPage(target, name);
    else if (page === 'topics') await topicsPage(target);
    else if (page === 'groups' && name) await groupPage(target, name).then(() => groupOffsetTools(target, name));
    else if (page === 'groups') await groupsPage(target, query);
    else if (page === 'dlq') await (name ? dlqPage(target, name, query) : dlqIndexPage(target));
    else if (page === 'producers') await producersPage(target, query);
    else if (page === 'messages') await messagesPage(target, query);
    else if (page === 'where' && name) await wherePage(target, name, query);
    else await clusterPage(target);
  } catch (e) {
    if (needsSignIn(e)) signInPage(target, e);
    else mount(target, errorBox(e));
  }
  if (mine !== generation) return;
  main.replaceChildren(...target.childNodes);
  main.dataset['page'] = page;
  main.dataset['ready'] = String(mine);
}

window.addEventListener('hashchange', () => void route());
void route();
void showSessionInHeader();
