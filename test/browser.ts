// tests that need a browser and the rendezvous point started in .aegir.js
import './browser/discovery.browser.ts'
