// ws_page.mjs URL - the WebSocket echo page (handlers/echo.c) in headless
// Chromium: open URL, wait for the connection, send a message by typing
// it and pressing Send, wait for the echo. Prints one JSON line with what
// the page showed; exits 0 when the echo came back as sent, 1 otherwise.
// Every wait has a deadline ($BROWSER_TIMEOUT_MS, default 15000).
//
// Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM), driven by
// playwright-core (npm ci in this directory).
import { chromium } from 'playwright-core';

const url = process.argv[2];
const timeout = Number(process.env.BROWSER_TIMEOUT_MS || 15000);

if (!url) {
    console.error('usage: node ws_page.mjs URL');
    process.exit(2);
}

// markup must come back as text, never as elements
const sent = 'hello from Chromium \u2713 <b>not bold</b>';

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless'],
    timeout,
});
let ok = false;
try {
    const page = await browser.newPage();
    page.setDefaultTimeout(timeout);
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));

    const resp = await page.goto(url);
    await page.waitForFunction(() => !document.getElementById('send').disabled);
    const status = await page.textContent('#status');

    await page.fill('#text', sent);
    await page.click('#send');
    const echo = await page.waitForSelector('#log li.echo');
    const result = {
        http_status: resp.status(),
        content_type: resp.headers()['content-type'],
        status,
        echo: await echo.textContent(),
        elements_in_echo: await page.$$eval('#log li.echo *', (els) => els.length),
        errors,
    };
    console.log(JSON.stringify(result));
    ok = result.echo === '\u2190 ' + sent && result.elements_in_echo === 0 &&
        errors.length === 0;
    await page.close({ runBeforeUnload: true });
} finally {
    await browser.close();
}
process.exit(ok ? 0 : 1);
