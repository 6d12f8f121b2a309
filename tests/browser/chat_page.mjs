// chat_page.mjs URL MODE - the chat page (handlers/chat.c) in headless
// Chromium, as two people in two browser contexts: open URL?mode=MODE
// (poll, ws or sse) in both, which sends each to the login page
// (handlers/account.c) first and back to the room once they have typed
// their name; once both are receiving, Ann types a
// message that Bob must see, and Bob answers. Then Ann leaves the page
// (about:blank), Bob writes, Ann comes back: the page resumes from the
// position it kept in sessionStorage and shows what she missed.
// Prints one JSON line with what each page showed; exits 0 when all went
// as it should, 1 otherwise. Every wait has a deadline
// ($BROWSER_TIMEOUT_MS, default 15000).
//
// Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM), driven by
// playwright-core (npm ci in this directory).
import { chromium } from 'playwright-core';

const [url, mode] = process.argv.slice(2);
const timeout = Number(process.env.BROWSER_TIMEOUT_MS || 15000);

if (!url || !mode) {
    console.error('usage: node chat_page.mjs URL poll|ws|sse');
    process.exit(2);
}
const page_url = url + '?mode=' + mode;
const room = new URL(url);

// markup must come back as text, never as elements
const hello = 'hello from Ann \u2713 <b>not bold</b> "quoted" \\o/';
const answer = 'hi Ann, Bob here \u{1F600}';
const missed = 'written while Ann was away';

// The messages a page shows: [{from, body}], and its notices.
async function shown(page) {
    return page.evaluate(() => ({
        messages: [...document.querySelectorAll('#messages li.message')].map(
            (li) => ({ from: li.querySelector('b').textContent,
                       body: li.querySelector('span').textContent,
                       elements: li.querySelectorAll('span *').length })),
        notices: [...document.querySelectorAll('#messages li.notice')].map(
            (li) => li.textContent),
    }));
}

let step = 'starting';

async function waitShown(page, body) {
    step = 'waiting for ' + JSON.stringify(body);
    await page.waitForFunction((b) => [...document.querySelectorAll(
        '#messages li.message span')].some((s) => s.textContent === b), body);
}

// A page does not know its position until the first message reaches it,
// so, as it would happen between two people, messages posted before it
// subscribed are not shown. Post (as the first page's user, with its
// cookies and XSRF token) until both pages have shown one.
async function untilReceiving(pages) {
    const deadline = Date.now() + timeout;
    for (let i = 0; ; i++) {
        const body = 'warm-up ' + i;
        const status = await pages[0].evaluate(async ([b, url]) => {
            const x = document.cookie.match(/(?:^|; )_xsrf=([^;]*)/);
            const resp = await fetch(url, {
                method: 'POST',
                headers: { 'Content-Type': 'application/json',
                           'X-XSRFToken': x ? x[1] : '' },
                body: JSON.stringify({ body: b }),
            });
            return resp.status;
        }, [body, new URL('message', room.href + '/').href]);
        if (status !== 200)
            throw new Error('warm-up POST: ' + status);
        await new Promise((ok) => setTimeout(ok, 300));
        const seen = await Promise.all(pages.map(async (p) =>
            (await shown(p)).messages.some((m) => m.body.startsWith('warm-up'))));
        if (seen.every(Boolean))
            return;
        if (Date.now() > deadline)
            throw new Error('the pages did not start receiving: ' + seen);
    }
}

async function send(page, text) {
    await page.fill('#text', text);
    await page.click('#send');
}

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless'],
    timeout,
});
let ok = false;
const errors = [];
try {
    const open = async (name) => {
        const context = await browser.newContext();
        const page = await context.newPage();
        page.setDefaultTimeout(timeout);
        page.on('pageerror', (e) => errors.push(name + ': ' + String(e)));
        step = name + ' logging in';
        await page.goto(page_url);
        if (new URL(page.url()).pathname !== '/login')
            throw new Error(name + ': not sent to /login but to ' + page.url());
        await page.fill('input[name=name]', name);
        const [resp] = await Promise.all([
            page.waitForNavigation(),
            page.click('button'),
        ]);
        if (resp.status() !== 200 || page.url() !== page_url)
            throw new Error(name + ': after logging in: ' + resp.status() +
                            ' ' + page.url());
        if ((await page.textContent('#me')) !== name)
            throw new Error(name + ': the page names ' +
                            (await page.textContent('#me')));
        return page;
    };
    const ann = await open('Ann');
    const bob = await open('Bob');
    step = 'warming up';
    await untilReceiving([ann, bob]);

    await send(ann, hello);
    await waitShown(bob, hello);
    await waitShown(ann, hello);
    await send(bob, answer);
    await waitShown(ann, answer);

    // Ann leaves (same tab: its sessionStorage stays) and comes back
    await ann.goto('about:blank');
    await send(bob, missed);
    await waitShown(bob, missed);
    await ann.goto(page_url);
    await waitShown(ann, missed);

    const result = {
        mode,
        status: { ann: await ann.textContent('#status'),
                  bob: await bob.textContent('#status') },
        ann: await shown(ann),
        bob: await shown(bob),
        errors,
    };
    console.log(JSON.stringify(result));
    const real = (s) => s.messages.filter((m) => !m.body.startsWith('warm-up'));
    ok = JSON.stringify(real(result.bob)) === JSON.stringify([
        { from: 'Ann', body: hello, elements: 0 },
        { from: 'Bob', body: answer, elements: 0 },
        { from: 'Bob', body: missed, elements: 0 }]) &&
        // after coming back, Ann's page shows exactly what she missed
        JSON.stringify(real(result.ann)) === JSON.stringify([
            { from: 'Bob', body: missed, elements: 0 }]) &&
        result.ann.notices.length === 0 && result.bob.notices.length === 0 &&
        errors.length === 0;
} catch (e) {
    console.log(JSON.stringify({ mode, error: step + ': ' + String(e), errors }));
} finally {
    await browser.close();
}
process.exit(ok ? 0 : 1);
