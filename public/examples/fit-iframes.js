// Fits each embedded Attention Explorer to the height it reports (a separate file, so the page
// also works under a Content-Security-Policy without inline scripts).
addEventListener('message', (event) => {
  if (!event.data || event.data.type !== 'attention-explorer:height') return;
  for (const frame of document.querySelectorAll('iframe')) {
    if (frame.contentWindow === event.source) frame.style.height = `${event.data.height}px`;
  }
});
