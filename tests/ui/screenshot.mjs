// screenshot.mjs - opens luastream's web UI (URL in argv[2]) in Debian's
// headless Chromium, waits until every chart shows data, checks the query
// table and the charts' time and value axes, and saves a screenshot
// (argv[3]). Exit 0 = the page works.
import { chromium } from "playwright-core";

const [url, out] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(url);
  // two queries, five charts each, every chart with at least one drawn series
  await page.waitForFunction(() => {
    const charts = document.querySelectorAll(".chart");
    return charts.length === 10 &&
      [...charts].every(c => c.querySelectorAll("polyline.series").length > 0);
  }, null, { timeout: 30000 });
  const rows = await page.$$eval("#queries tbody tr", trs => trs.map(tr => tr.children[0].textContent));
  if (rows.join(",") !== "crime_type_counts,disposition_counts") throw new Error("query table: " + rows);
  const points = await page.$eval("polyline.series", p => p.getAttribute("points").split(" ").length);
  if (points < 2) throw new Error("the rows/s chart has no history");
  // every chart has a time axis (HH:MM:SS ticks) and a value axis
  const axes = await page.$$eval(".chart svg", svgs => svgs.map(s =>
    [s.querySelectorAll("text.xtick").length, s.querySelectorAll("text.ytick").length]));
  if (!axes.every(([x, y]) => x > 0 && y >= 3 && y <= 6)) throw new Error("a chart lacks its axes: " + JSON.stringify(axes));
  await page.screenshot({ path: out, fullPage: true });
  console.log("ok: 10 charts with data, screenshot " + out);
} finally {
  await browser.close();
}
